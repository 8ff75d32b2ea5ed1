import DiffEqCore

// The non-stiff benchmark problems in the fixed-size form (`StaticODEProblem`): the same
// formulas as the array-form models, evaluated in the same operation order, so that an explicit
// Runge-Kutta solve gives the same steps and numbers bit for bit in both forms (tested in
// ExplicitRKTests/StaticStateTests). The fixed-size form keeps the state in registers: for
// small systems it is the fast path (DESIGN.md §2), as static arrays are in Julia.

/// ``LotkaVolterra`` in the fixed-size form: `u = (x, y)`, `p = (α, β, γ, δ)`.
public struct StaticLotkaVolterra: StaticODEFunction, Sendable {
    public init() {}

    @inlinable
    public func callAsFunction(_ u: SIMD2<Double>, _ p: SIMD4<Double>, _ t: Double) -> SIMD2<Double> {
        let xy = u[0] * u[1]
        return SIMD2(p[0] * u[0] - p[1] * xy, p[3] * xy - p[2] * u[1])
    }
}

/// ``Arenstorf`` in the fixed-size form: `u = (y₁, y₂, y′₁, y′₂)`, `p = μ`.
public struct StaticArenstorf: StaticODEFunction, Sendable {
    public init() {}

    @inlinable
    public func callAsFunction(_ u: SIMD4<Double>, _ mu: Double, _ t: Double) -> SIMD4<Double> {
        let muPrime = 1 - mu
        let a1 = u[0] + mu, a2 = u[0] - muPrime, b = u[1]
        let r1 = a1 * a1 + b * b
        let r2 = a2 * a2 + b * b
        let invD1 = 1 / (r1 * r1.squareRoot())
        let invD2 = 1 / (r2 * r2.squareRoot())
        return SIMD4(
            u[2], u[3],
            u[0] + 2 * u[3] - muPrime * a1 * invD1 - mu * a2 * invD2,
            u[1] - 2 * u[2] - muPrime * b * invD1 - mu * b * invD2)
    }
}

extension TestProblems {
    /// ``lotkaVolterra(_:)`` in the fixed-size form.
    public static func staticLotkaVolterra() -> StaticODEProblem<StaticLotkaVolterra> {
        StaticODEProblem(StaticLotkaVolterra(), u0: SIMD2(1, 1), tspan: (0, 10), p: SIMD4(1.5, 1, 3, 1))
    }

    /// ``arenstorf(_:tEnd:)`` in the fixed-size form.
    public static func staticArenstorf(tEnd: Double = arenstorfPeriod) -> StaticODEProblem<StaticArenstorf> {
        StaticODEProblem(
            StaticArenstorf(), u0: SIMD4(0.994, 0, 0, -2.00158510637908252240537862224), tspan: (0, tEnd),
            p: 0.012277471)
    }
}

// The stiff problems in the fixed-size form, for the Rosenbrock methods' fixed-size integrator:
// the same formulas and analytic Jacobians as ``VanDerPol`` and ``Hires`` (StiffProblems.swift),
// in the same operation order, so that a solve gives the same steps and numbers bit for bit in
// both forms (tested in StiffSolversTests/StaticRosenbrockTests).

/// ``VanDerPol`` (VDPOL, scaled form) in the fixed-size form: `u = (y₁, y₂)`, `p = ε`.
public struct StaticVanDerPol: StaticODEFunction, Sendable {
    public init() {}

    @inlinable
    public func callAsFunction(_ u: SIMD2<Double>, _ eps: Double, _ t: Double) -> SIMD2<Double> {
        SIMD2(u[1], ((1 - u[0] * u[0]) * u[1] - u[0]) / eps)
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian(_ u: SIMD2<Double>, _ eps: Double, _ t: Double) -> SIMD2<Double>.SquareMatrix {
        var J = SIMD2<Double>.SquareMatrix()
        J[column: 0] = SIMD2(0, (-2 * u[0] * u[1] - 1) / eps)
        J[column: 1] = SIMD2(1, (1 - u[0] * u[0]) / eps)
        return J
    }
}

/// ``Hires`` in the fixed-size form: eight species, `p = (k₁, k₂, k₃, k₄, k₅, k₆, k₊, k₋, k*,
/// o_ks)` as in the array form.
public struct StaticHires: StaticODEFunction, Sendable {
    public init() {}

    @inlinable
    public func callAsFunction(_ u: SIMD8<Double>, _ p: StaticVector<10>, _ t: Double) -> SIMD8<Double> {
        let k1 = p[0], k2 = p[1], k3 = p[2], k4 = p[3], k5 = p[4], k6 = p[5]
        let kPlus = p[6], kMinus = p[7], kStar = p[8], oks = p[9]
        let binding = kPlus * u[5] * u[7]
        let release = (k2 + kMinus + kStar) * u[6]
        var du = SIMD8<Double>()
        du[0] = -k1 * u[0] + k2 * u[1] + k6 * u[2] + oks
        du[1] = k1 * u[0] - (k2 + k3) * u[1]
        du[2] = -(k6 + k1) * u[2] + k2 * u[3] + k5 * u[4]
        du[3] = k3 * u[1] + k1 * u[2] - (k4 + k2) * u[3]
        du[4] = -(k5 + k1) * u[4] + k2 * (u[5] + u[6])
        du[5] = -binding + k4 * u[3] + k1 * u[4] - k2 * u[5] + kMinus * u[6]
        du[6] = binding - release
        du[7] = release - binding
        return du
    }

    public var hasAnalyticJacobian: Bool { true }
    public var isAutonomous: Bool { true }

    @inlinable
    public func jacobian(_ u: SIMD8<Double>, _ p: StaticVector<10>, _ t: Double) -> SIMD8<Double>.SquareMatrix {
        let k1 = p[0], k2 = p[1], k3 = p[2], k4 = p[3], k5 = p[4], k6 = p[5]
        let kPlus = p[6], kMinus = p[7], kStar = p[8]
        var J = SIMD8<Double>.SquareMatrix()
        J[0, 0] = -k1; J[0, 1] = k2; J[0, 2] = k6
        J[1, 0] = k1; J[1, 1] = -(k2 + k3)
        J[2, 2] = -(k6 + k1); J[2, 3] = k2; J[2, 4] = k5
        J[3, 1] = k3; J[3, 2] = k1; J[3, 3] = -(k4 + k2)
        J[4, 4] = -(k5 + k1); J[4, 5] = k2; J[4, 6] = k2
        let dBindingDy6 = kPlus * u[7]
        let dBindingDy8 = kPlus * u[5]
        let releaseRate = k2 + kMinus + kStar
        J[5, 3] = k4; J[5, 4] = k1; J[5, 5] = -dBindingDy6 - k2
        J[5, 6] = kMinus; J[5, 7] = -dBindingDy8
        J[6, 5] = dBindingDy6; J[6, 6] = -releaseRate; J[6, 7] = dBindingDy8
        J[7, 5] = -dBindingDy6; J[7, 6] = releaseRate; J[7, 7] = -dBindingDy8
        return J
    }
}

extension TestProblems {
    /// ``vanDerPol(_:)`` (VDPOL, `ε = 1e-6`, `y(0) = (2, 0)` on `[0, 2]`) in the fixed-size form.
    public static func staticVanDerPol() -> StaticODEProblem<StaticVanDerPol> {
        StaticODEProblem(StaticVanDerPol(), u0: SIMD2(2, 0), tspan: (0, 2), p: 1e-6)
    }

    /// ``hires(_:)`` (the test set's constants and initial values on `[0, 321.8122]`) in the
    /// fixed-size form.
    public static func staticHires() -> StaticODEProblem<StaticHires> {
        StaticODEProblem(
            StaticHires(), u0: SIMD8(1, 0, 0, 0, 0, 0, 0, 0.0057), tspan: (0, 321.8122),
            p: [1.71, 0.43, 8.32, 0.69, 0.035, 8.32, 280, 0.69, 0.69, 0.0007])
    }
}
