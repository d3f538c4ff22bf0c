from . import perimeter_access_admit
from . import perimeter_edge_export
from . import perimeter_block
