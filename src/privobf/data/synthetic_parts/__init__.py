"""Building blocks of the synthetic privacy scenes (`privobf.data.synthetic`).

Each module does one job: `words` makes strings, `text` puts them on pixels, `people` and
`things` paint the objects that carry private attributes, `clutter` paints the ones that do
not, `backgrounds` and `coco` provide what lies behind, `canvas` stacks everything while
tracking which object owns each pixel, and `priors` imitates off-the-shelf detectors.
"""
