"""The dynamic pass: run the user's script in a sandboxed child process up to `fit`, capture
the models, losses and targets, and probe every loss with real shapes. TensorFlow is imported
only here, and only in the child process (or by the in-process `losslint.probe` API)."""
