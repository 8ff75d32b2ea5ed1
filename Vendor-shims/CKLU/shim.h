// Nothing is declared here: CKLU only links libklu. The KLU header is included by CKLUShim's C
// file alone (through its klu-compat/ forwarding header), so no KLU type reaches Swift.
