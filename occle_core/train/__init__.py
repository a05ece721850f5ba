"""Label-efficient training: label budget, datasets and batches, the objective with its losses
and SAP, the mean teacher, schedules, one optimiser step, validation, the run folder and its log,
and the trainer behind `occle train`."""
