"""Model artefacts; a package so that wheels ship the .npz files (package-data `*.npz`)."""
