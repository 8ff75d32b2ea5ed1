import Ensembles
