# Runs at every boot and soft reset: before main.py, and alone when a host tool soft-resets the
# board into the raw REPL. The ESP32's watchdog cannot be stopped and outlives a soft reset,
# while timers do not: until the firmware loop takes over, a timer feeds it (and resets a board
# the host left alone with no loop running: `dowel.hal.HOST_IDLE_MS`).
from dowel import hal

hal.feed_in_background(hal.watchdog())
