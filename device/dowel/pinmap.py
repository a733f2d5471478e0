"""The dowel's pin map: the one source of truth read by the firmware, the host tools,
the hardware docs and the schematic generator.

    from dowel.pinmap import SENSOR_PINS, LED_PIN
    SENSOR_PINS[0]  # GPIO of the head FSR

FSRs sit on ADC1 (GPIO32-39) because ADC2 is unusable while Wi-Fi is on; GPIO34/35 are
input-only, which suits a divider. GPIO36/39 are avoided: the ESP32 errata (3.11) reports
glitches on them when the ADC or Wi-Fi powers up.
"""

# Sensor order everywhere (readings, masks, logs): head, mid-back, sacrum.
SENSORS = ("head", "midback", "sacrum")
SENSOR_PINS = (34, 35, 32)  # ADC1_CH6, ADC1_CH7, ADC1_CH4
LED_PIN = 2  # the DevKitC / WROOM-32 DevKit on-board LED; the external LED is wired in parallel
BUZZER_PIN = 25  # PWM into the NPN driver of a passive piezo buzzer
I2C_ID = 0
I2C_SDA_PIN = 21
I2C_SCL_PIN = 22
I2C_FREQ_HZ = 400000
MPU6050_ADDR = 0x68

# GPIOs wired to ADC1 on the ESP32 (ADC2 conflicts with Wi-Fi); a test checks every FSR is here.
ADC1_PINS = (32, 33, 34, 35, 36, 37, 38, 39)
