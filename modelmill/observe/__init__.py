"""What people watch: run names, Prefect artifacts, training progress and notifications."""
