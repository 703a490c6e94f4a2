"""Calendar constants shared by every cost term (one place, so reports agree)."""

HOURS_PER_DAY = 24.0
DAYS_PER_MONTH = 30.4  # the reporting month used throughout (365 / 12 = 30.42, rounded)
DAYS_PER_YEAR = 365.0
MB_PER_GB = 1000.0
