"""LOBSTER event codes and their names (see https://lobsterdata.com/info/DataStructure.php)."""

from enum import IntEnum


class EventType(IntEnum):
    """LOBSTER message types."""

    SUBMIT = 1
    PARTIAL_CANCEL = 2
    DELETE = 3
    EXECUTE_VISIBLE = 4
    EXECUTE_HIDDEN = 5
    CROSS_TRADE = 6
    TRADING_HALT = 7


EVENT_NAMES = {EventType.SUBMIT: "submit", EventType.PARTIAL_CANCEL: "partial cancel",
               EventType.DELETE: "delete", EventType.EXECUTE_VISIBLE: "visible execution",
               EventType.EXECUTE_HIDDEN: "hidden execution", EventType.CROSS_TRADE: "cross trade",
               EventType.TRADING_HALT: "trading halt"}
