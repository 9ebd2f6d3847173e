"""Learning: fitting the user's model and re-ranking the pool.

- :mod:`.learner`: :class:`~.learner.Learner`, one retrain of a user's estimator;
- :mod:`.models`: the registry of models a project can choose by name;
- :mod:`.multilabel`, :mod:`.svm`: model wrappers (several labels per item; an SVM
  with probabilities);
- :mod:`.estimate`: the accuracy estimate (:class:`~.estimate.AccuracyEstimate`) and
  the audit draws woven into each order (:class:`~.estimate.AuditDraws`);
- :mod:`.simulation`: :func:`~.simulation.simulate`, active learning replayed with an oracle;
- :mod:`.stopping`: the accuracy estimate's history read out: its headline, its curve, when to stop;
- :mod:`.training`: a project's retrain from its store, and the background scheduler.

Nothing is imported here, so that :mod:`.training` can be imported without
loading scikit-learn (the app shows its first item before scikit-learn is loaded).
"""
