from . import perimeter_access_admit
