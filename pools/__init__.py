"""owd stage package: pools. Rule-based Parquet data pools with data cards.

``rules`` compiles a pool definition into an exact predicate, ``build`` writes the
hive-partitioned Parquet pools, ``cards`` the Croissant / DCAT-AP / AI Act summary
cards, ``access`` lists, shows and pulls them. Nothing here knows about Ray.
"""
