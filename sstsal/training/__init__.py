"""Training and fine-tuning SST-Sal: data layout, loss, the training loop and its resumable
run folder."""
