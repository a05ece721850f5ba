"""Label-efficient training: label budget, datasets and batches, the objective, the mean
teacher, schedules and the trainer behind `occle train`."""
