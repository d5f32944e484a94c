"""The analysis labs: their data sets, answer checks, pandas hints and the CJK chart font."""
