"""The ML-model mixin's machinery: features, labels, walk-forward training, the model registry.

Only :mod:`mixbot.ml.model`, :mod:`mixbot.ml.tuner` and :mod:`mixbot.ml.train` import
TensorFlow (``mixbot train``); a bot serves its model with LiteRT (:mod:`mixbot.ml.serve`) and
never imports TensorFlow. See the README section "ML models".
"""
