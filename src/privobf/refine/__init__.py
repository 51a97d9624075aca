"""From attention maps to masks: the second half of the weakly supervised pipeline.

A trained privobf model gives class activation maps; the stages here turn them into pixel masks,
each one switchable and measurable on its own (dissertation of J. Lee, seed 004; digest in
`docs/refine.md`):

    attribution (CAM, Grad-CAM, AdvCAM, RIB, FickleNet)      -> seeds        privobf cam
    refinement  (IRN, AffinityNet random walk, dense CRF)    -> refined maps privobf refine
    confident regions + ignore band                          -> pseudo labels privobf pseudo-labels
    DeepLab-v2-style network (optionally with DSRG)          -> masks        privobf train-seg

Every stage reads and writes per-image :class:`~privobf.refine.localisation.Localisation` files in
a :class:`~privobf.refine.store.MapStore`, so a chain can stop and resume anywhere.
"""
