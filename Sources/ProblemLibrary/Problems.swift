import DiffEqCore

/// Lotka-Volterra predator-prey model: `x' = αx - βxy`, `y' = -γy + δxy`, `p = [α, β, γ, δ]`.
///
/// A. J. Lotka, "Elements of Physical Biology" (1925); V. Volterra (1926). The parameters
/// `p = [1.5, 1, 3, 1]`, `u0 = [1, 1]`, `t ∈ [0, 10]` are those of the DifferentialEquations.jl
/// and DiffEqFlux.jl documentation examples.
public struct LotkaVolterra: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let xy = u[0] * u[1]
        du[0] = p[0] * u[0] - p[1] * xy
        du[1] = p[3] * xy - p[2] * u[1]
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        J[0] = p[0] - p[1] * u[1]  // d f0 / d x
        J[1] = p[3] * u[1]  // d f1 / d x
        J[2] = -p[1] * u[0]  // d f0 / d y
        J[3] = p[3] * u[0] - p[2]  // d f1 / d y
    }
}

/// The Lorenz system `x' = σ(y - x)`, `y' = x(ρ - z) - y`, `z' = xy - βz`, `p = [σ, ρ, β]`.
///
/// E. N. Lorenz, "Deterministic nonperiodic flow", J. Atmos. Sci. 20 (1963) 130-141, with his
/// parameters σ = 10, ρ = 28, β = 8/3 (chaotic; largest Lyapunov exponent about 0.9).
public struct Lorenz: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * (u[1] - u[0])
        du[1] = u[0] * (p[1] - u[2]) - u[1]
        du[2] = u[0] * u[1] - p[2] * u[2]
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        J[0] = -p[0]; J[1] = p[1] - u[2]; J[2] = u[1]
        J[3] = p[0]; J[4] = -1; J[5] = u[0]
        J[6] = 0; J[7] = -u[0]; J[8] = -p[2]
    }
}

/// ``Lorenz`` in the fixed-size form (``StaticODEProblem``): state and parameters `SIMD3<Double>`
/// (`p = (σ, ρ, β)`), the same formula in the same operation order, so both forms give the same
/// numbers.
public struct StaticLorenz: StaticODEFunction, Sendable {
    public init() {}

    @inlinable
    public func callAsFunction(_ u: SIMD3<Double>, _ p: SIMD3<Double>, _ t: Double) -> SIMD3<Double> {
        SIMD3(p[0] * (u[1] - u[0]), u[0] * (p[1] - u[2]) - u[1], u[0] * u[1] - p[2] * u[2])
    }
}

/// Robertson's stiff chemical kinetics (ROBER):
/// `y1' = -k1 y1 + k3 y2 y3`, `y2' = k1 y1 - k2 y2² - k3 y2 y3`, `y3' = k2 y2²`, `p = [k1, k2, k3]`.
///
/// H. H. Robertson, "The solution of a set of reaction rate equations", in J. Walsh (ed.),
/// Numerical Analysis: An Introduction, Academic Press (1966) 178-182. As in the IVP test set:
/// k = (0.04, 3e7, 1e4), y(0) = (1, 0, 0), t ∈ [0, 1e11].
public struct Rober: ODEModel, Sendable {
    public init() {}

    @inlinable
    public func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let r1 = p[0] * u[0]
        let r2 = p[1] * u[1] * u[1]
        let r3 = p[2] * u[1] * u[2]
        du[0] = r3 - r1
        du[1] = r1 - r2 - r3
        du[2] = r2
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        let two: S = 2
        J[0] = -p[0]; J[1] = p[0]; J[2] = 0
        J[3] = p[2] * u[2]; J[4] = -two * p[1] * u[1] - p[2] * u[2]; J[5] = two * p[1] * u[1]
        J[6] = p[2] * u[1]; J[7] = -p[2] * u[1]; J[8] = 0
    }
}

/// The standard test problems with their published settings and references, as `ODEProblem`s:
/// `TestProblems.rober()`, `TestProblems.hires()`, ... (the module's page lists them).
public enum TestProblems {
    /// Lotka-Volterra with `p = [1.5, 1, 3, 1]`, `u0 = [1, 1]` on `[0, 10]`.
    public static func lotkaVolterra<S: DiffEqScalar>(_ scalar: S.Type = Double.self)
        -> ODEProblem<GenericRHS<LotkaVolterra, S>>
    {
        ODEProblem(model: LotkaVolterra(), u0: [1, 1], tspan: (0, 10), p: [1.5, 1, 3, 1])
    }

    /// Lorenz with `σ = 10, ρ = 28, β = 8/3`, `u0 = [1, 0, 0]`, on `[0, tEnd]`.
    public static func lorenz<S: DiffEqScalar>(_ scalar: S.Type = Double.self, tEnd: Double = 10)
        -> ODEProblem<GenericRHS<Lorenz, S>>
    {
        ODEProblem(model: Lorenz(), u0: [1, 0, 0], tspan: (0, tEnd), p: [10, 28, S(8.0 / 3.0)])
    }

    /// ``lorenz(_:tEnd:)`` in the fixed-size form: `SIMD3<Double>` state and parameters.
    public static func staticLorenz(tEnd: Double = 10) -> StaticODEProblem<StaticLorenz> {
        StaticODEProblem(StaticLorenz(), u0: SIMD3(1, 0, 0), tspan: (0, tEnd), p: SIMD3(10, 28, 8.0 / 3.0))
    }

    /// ROBER with `k = (0.04, 3e7, 1e4)`, `y0 = (1, 0, 0)` on `[0, tEnd]` (the test set uses
    /// `tEnd = 1e11`).
    public static func rober<S: DiffEqScalar>(_ scalar: S.Type = Double.self, tEnd: Double = 1e11)
        -> ODEProblem<GenericRHS<Rober, S>>
    {
        ODEProblem(model: Rober(), u0: [1, 0, 0], tspan: (0, tEnd), p: [0.04, 3e7, 1e4])
    }

    /// The reference solution of ROBER at t = 1e11.
    public static let roberReference = ReferenceSolution(
        t: 1e11,
        u: [0.2083340149701255e-07, 0.8333360770334713e-13, 0.9999999791665050],
        source: "F. Mazzia and C. Magherini, Test Set for Initial Value Problem Solvers, release 2.4 "
            + "(University of Bari, 2008), problem ROBER, reference solution at t = 1e11")
}
