"""Training for new trainees: practice items with immediate feedback, then a qualification set
that opens paid work (engine/domain/training_path.py holds the rules)."""
