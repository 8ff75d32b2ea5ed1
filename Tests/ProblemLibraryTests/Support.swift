import DiffEqCore
import ProblemLibrary

/// SplitMix64: a small seeded generator so that the "random" states are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One model under test, type-erased to Double and Float closures.
struct ModelCase {
    let name: String
    let dimension: Int
    let p: [Double]
    /// States near the solution's scale: `base·(1 + spread·U) + jitter·U`, `U` uniform in [-1, 1].
    let states: [[Double]]
    let rhs: ([Double], [Double]) -> [Double]
    let jacobian: ([Double], [Double]) -> [Double]
    let rhsFloat: ([Float], [Float]) -> [Float]
    let jacobianFloat: ([Float], [Float]) -> [Float]
}

func makeCase<M: ODEModel>(
    _ name: String, _ model: M, p: [Double], base: [Double], spread: Double, jitter: Double = 0, seed: UInt64
) -> ModelCase {
    precondition(model.hasAnalyticJacobian, "\(name) has no analytic Jacobian")
    let n = base.count
    var rng = SplitMix64(seed: seed)
    let states = (0..<3).map { _ in
        base.map { b in
            b * (1 + spread * Double.random(in: -1...1, using: &rng)) + jitter * Double.random(in: -1...1, using: &rng)
        }
    }
    func f<S: DiffEqScalar>(_ u: [S], _ p: [S]) -> [S] {
        var du = [S](repeating: 0, count: n)
        model.rhs(&du, u, p, 0)
        return du
    }
    func jac<S: DiffEqScalar>(_ u: [S], _ p: [S]) -> [S] {
        var J = [S](repeating: 0, count: n * n)
        model.jacobian(&J, u, p, 0)
        return J
    }
    return ModelCase(
        name: name, dimension: n, p: p, states: states,
        rhs: { f($0, $1) }, jacobian: { jac($0, $1) },
        rhsFloat: { f($0, $1) }, jacobianFloat: { jac($0, $1) })
}

/// Every model of the library, at parameters and states where its published problem lives.
enum Models {
    static let names = [
        "LotkaVolterra", "Lorenz", "Rober", "Pleiades", "Arenstorf", "DetestA2", "DetestA4", "Hires", "Pollution",
        "Oregonator", "VanDerPol", "UnscaledVanDerPol", "DetestE5",
    ]

    static func named(_ name: String) -> ModelCase {
        switch name {
        case "LotkaVolterra":
            return makeCase(
                name, LotkaVolterra(), p: TestProblems.lotkaVolterra().p, base: [1, 1], spread: 0.5, seed: 1)
        case "Lorenz":
            return makeCase(name, Lorenz(), p: TestProblems.lorenz().p, base: [1, 1, 20], spread: 0.5, seed: 2)
        case "Rober":
            return makeCase(
                name, Rober(), p: TestProblems.rober().p, base: TestProblems.roberReference.u, spread: 0.3, seed: 3)
        case "Pleiades":
            return makeCase(
                name, Pleiades(), p: TestProblems.pleiades().p, base: TestProblems.pleiadesReference.u,
                spread: 0.1, seed: 4)
        case "Arenstorf":
            // Away from the Moon at (1 − μ, 0): the initial point 0.994 is only 0.006 from it.
            return makeCase(
                name, Arenstorf(), p: TestProblems.arenstorf().p, base: [0.4, 0.5, -0.5, 0.3], spread: 0.3,
                jitter: 0.05, seed: 5)
        case "DetestA2":
            return makeCase(name, DetestA2(), p: [], base: [0.7], spread: 0.3, seed: 6)
        case "DetestA4":
            return makeCase(name, DetestA4(), p: [], base: [5], spread: 0.5, seed: 7)
        case "Hires":
            return makeCase(
                name, Hires(), p: TestProblems.hires().p, base: TestProblems.hiresReference.u, spread: 0.3, seed: 8)
        case "Pollution":
            return makeCase(
                name, Pollution(), p: TestProblems.pollution().p, base: TestProblems.pollutionReference.u,
                spread: 0.3, seed: 9)
        case "Oregonator":
            return makeCase(
                name, Oregonator(), p: TestProblems.orego().p, base: TestProblems.oregoReference.u, spread: 0.3,
                seed: 10)
        case "VanDerPol":
            return makeCase(
                name, VanDerPol(), p: TestProblems.vanDerPol().p, base: TestProblems.vanDerPolReference.u,
                spread: 0.3, seed: 11)
        case "UnscaledVanDerPol":
            return makeCase(
                name, UnscaledVanDerPol(), p: TestProblems.unscaledVanDerPol().p,
                base: TestProblems.unscaledVanDerPolReference.u, spread: 0.3, seed: 12)
        case "DetestE5":
            // A state on the solution at t = 1e3 (SciPy Radau, rtol 1e-10): every component is
            // nonzero there, unlike at t = 0 (three zeros) and t = 1e13 (y₁ ≈ 1e-291, y₄ = 0).
            return makeCase(
                name, DetestE5(), p: TestProblems.detestE5().p, base: [1.618e-3, 1.382e-10, 8.25e-12, 1.30e-10],
                spread: 0.3, seed: 13)
        default:
            preconditionFailure("unknown model \(name)")
        }
    }
}

/// Central-difference Jacobian, column-major, with steps `h_j = step·|u_j|`.
func centralDifferenceJacobian(_ m: ModelCase, _ u: [Double], step: Double = 1e-5) -> [Double] {
    let n = m.dimension
    var J = [Double](repeating: 0, count: n * n)
    for j in 0..<n {
        let h = step * max(abs(u[j]), 1e-300)
        var up = u, down = u
        up[j] += h
        down[j] -= h
        let width = up[j] - down[j]  // the step actually taken, after rounding
        let fp = m.rhs(up, m.p), fm = m.rhs(down, m.p)
        for i in 0..<n { J[i + j * n] = (fp[i] - fm[i]) / width }
    }
    return J
}

/// `Σ_k |J_ik u_k| + |f_i|`: the size of the terms that make up `f_i`, what rounding in `f_i` is
/// relative to.
func termScale(_ J: [Double], _ u: [Double], _ f: [Double], row i: Int) -> Double {
    let n = u.count
    var s = abs(f[i])
    for k in 0..<n { s += abs(J[i + k * n] * u[k]) }
    return s
}

/// `Σ vᵢ` and `Σ |vᵢ|` (spelled out: `map(abs)` is ambiguous between Swift's and DiffEqCore's
/// generic `abs` and slows the type checker down).
func sum(_ v: [Double]) -> Double { v.reduce(0, +) }
func sumOfMagnitudes(_ v: [Double]) -> Double { v.reduce(0) { $0 + Swift.abs($1) } }
