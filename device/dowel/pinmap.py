"""The dowel's pin map: the one source of truth read by the firmware, the host tools,
the hardware docs and the schematic generator.

    from dowel.pinmap import SENSOR_PINS, LED_PIN
    SENSOR_PINS[0]  # GPIO of the head FSR

FSRs sit on ADC1 (GPIO32-39) because ADC2 is unusable while Wi-Fi is on; GPIO34/35 are
input-only, which suits a divider. GPIO36/39 are avoided: the ESP32 errata (3.11) reports
glitches on them when the ADC or Wi-Fi powers up.
"""

# One FSR per point, in the points' order (`dowel.points.NAMES`: head, mid-back, sacrum).
SENSOR_PINS = (34, 35, 32)  # ADC1_CH6, ADC1_CH7, ADC1_CH4
LED_PIN = 2  # the DevKitC / WROOM-32 DevKit on-board LED; the external LED is wired in parallel
BUZZER_PIN = 25  # PWM into the NPN driver of a passive piezo buzzer
I2C_ID = 0
I2C_SDA_PIN = 21
I2C_SCL_PIN = 22
I2C_FREQ_HZ = 400000
MPU6050_ADDR = 0x68  # the IMU (MPU6050 or MPU-6500, `dowel.imu`), AD0 low
RTC_ADDR = 0x51  # PCF8563 real-time clock (`dowel.rtc8563`), fixed address: no clash with 0x68

# Cell voltage: OUT+ of the charger (after the power switch) -> R_TOP -> GPIO33 -> R_BOTTOM -> GND,
# 100 nF across R_BOTTOM. ADC1_CH5, 11 dB. A 4.2 V cell reads 2.1 V at the pin, inside the
# ADC's linear 150-2450 mV; the divider draws 21 uA, and nothing with the switch off.
BATTERY_PIN = 33  # ADC1_CH5
BATTERY_R_TOP_OHMS = 100000
BATTERY_R_BOTTOM_OHMS = 100000

# GPIOs wired to ADC1 on the ESP32 (ADC2 conflicts with Wi-Fi); a test checks every FSR is here.
ADC1_PINS = (32, 33, 34, 35, 36, 37, 38, 39)
