"""Shifu 师傅: a training and simulation lab for e-commerce customer-service agents."""
__version__ = "0.1.0"
