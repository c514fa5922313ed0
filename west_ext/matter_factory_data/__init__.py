"""matter-factory-data: Matter factory data for nRF Connect SDK / Zephyr and STM32."""

__version__ = "0.1.0"
