"""Test-support helpers for kbtrans (not part of the installed package).

* :mod:`argos_models` — deterministic builder of real, tiny (or benchmark-sized) Argos Translate
  packages: a SentencePiece model, a CTranslate2 "copy" model whose translation is exactly its
  input, a random-weights "adversary" model, ``.argosmodel`` packaging and offline installation.
"""
