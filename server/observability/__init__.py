"""What a running server tells its operators: logs, metrics, tuning."""
