"""Collaborative filtering from shopper events: "for you", "related items", a ranking feature.

Two backends share one :class:`Recommender` contract:

- :class:`ItemItemCF`: item-to-item cosine similarity over who-interacted-with-what
  (Sarwar, Karypis, Konstan, Riedl, *Item-based collaborative filtering recommendation
  algorithms*, WWW 2001; Linden, Smith, York, *Amazon.com recommendations: item-to-item
  collaborative filtering*, IEEE Internet Computing 2003).
- :class:`ALSRecommender`: implicit-feedback matrix factorisation by alternating least
  squares (Hu, Koren, Volinsky, *Collaborative Filtering for Implicit Feedback Datasets*,
  ICDM 2008), fitted with the ``implicit`` package.

Both are trained on owners (``Event.owner``: the user when known, else the session) and
both answer for a shopper *from their live history* (``(product_id, weight)`` pairs), so a
brand-new user or session that never appeared at training time still gets recommendations
as soon as they touched one known item. Models save to a folder as ``model.json`` plus
``arrays.npz`` (no pickle) and load back with :meth:`Recommender.load`.
"""
from shoprank.personalization.collaborative.als import ALSRecommender
from shoprank.personalization.collaborative.base import Recommender, history_from_events
from shoprank.personalization.collaborative.itemitem import ItemItemCF

__all__ = ["ALSRecommender", "ItemItemCF", "Recommender", "history_from_events"]
