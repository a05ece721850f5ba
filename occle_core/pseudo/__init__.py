"""2D pseudo labels from foundation models, their class alignment and Boolean merge, and their
lifting to 3D (`occle pseudo-label`)."""
