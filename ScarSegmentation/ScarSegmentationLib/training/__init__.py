"""Training scripts (resumable, CPU): stage 1/2 U-Nets (train_unet), stage 3 autoencoder."""
