// `import AutoDiff` brings the scalar protocol and `Dual` (which live in DiffEqCore so that every
// generic right-hand side can offer a compile-time specialised forward-mode Jacobian).
@_exported import DiffEqCore
