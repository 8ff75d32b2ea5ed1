import DiffEq

// The seed's one-layer "network" (DiffEqFlux.jl's first example), shared by the
// lotka-volterra-fit script and neural-bench's Lotka-Volterra gradient.

/// Lotka-Volterra as the seed writes it: `du1 = p1 u1 − p2 u1 u2`, `du2 = −p3 u2 + p4 u1 u2`.
public struct SeedLotkaVolterra: ODEModel {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
        du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
    }

    public var isAutonomous: Bool { true }
}

/// `Σ_k (u1(t_k) − 1)²`: the rabbits held at 1.
public struct RabbitsAtOne: PointLoss {
    public init() {}

    @inlinable
    public func callAsFunction<S: DiffEqScalar>(_ u: [S], _ t: Double) -> S { (u[0] - 1) * (u[0] - 1) }
}
