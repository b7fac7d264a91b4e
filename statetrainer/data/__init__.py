"""DataModule and dataloader handling."""
