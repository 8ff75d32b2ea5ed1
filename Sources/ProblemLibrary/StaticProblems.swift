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

extension ProblemLibrary {
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
