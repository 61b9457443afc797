"""aupsite: experiment tracker and live dashboard for hyperparameter tuning."""

__version__ = "0.1.0"
