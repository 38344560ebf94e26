"""TensorBoard scalars for every trainer (`tensorboard --logdir OUT/logs`); a no-op where TensorFlow is absent
(the GPU machines run JAX alone), so training goes on without logs."""

from __future__ import annotations


class TensorBoard:
    def __init__(self, folder: str):
        try:
            import tensorflow as tf
        except ImportError:
            self._tf = self._writer = None
            return
        self._tf, self._writer = tf, tf.summary.create_file_writer(folder)

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self._writer is None:
            return
        with self._writer.as_default(step=step):
            for name, value in values.items():
                if value is not None:
                    self._tf.summary.scalar(name, float(value))
        self._writer.flush()
