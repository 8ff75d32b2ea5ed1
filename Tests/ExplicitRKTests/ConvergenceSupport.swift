import Glibc
import DiffEqCore
import ExplicitRK

// Shared support for the method-suite tests: test problems with closed-form solutions, a
// fixed-step convergence runner and the order estimate.

/// Runs any tableau through the public solve path (the algorithm structs are this plus a name).
struct TableauAlgorithm: ExplicitRKAlgorithm {
    let tableau: ButcherTableau
}

/// Observed order from errors at step sizes `h_k`: the mean of
/// `log(e_k / e_{k+1}) / log(h_k / h_{k+1})` (DiffEqDevTools' estimate, for any step ratio).
func observedOrder(errors: [Double], stepSizes h: [Double]) -> Double {
    let slopes = localOrders(errors: errors, stepSizes: h)
    return slopes.reduce(0, +) / Double(slopes.count)
}

/// The individual slopes `log(e_k / e_{k+1}) / log(h_k / h_{k+1})`.
func localOrders(errors: [Double], stepSizes h: [Double]) -> [Double] {
    var slopes: [Double] = []
    for k in 0..<(errors.count - 1) {
        let errorRatio: Double = log(errors[k] / errors[k + 1])
        let stepRatio: Double = log(h[k] / h[k + 1])
        slopes.append(errorRatio / stepRatio)
    }
    return slopes
}

/// A sequence of fixed step sizes over `[0, tEnd]`: `N_k = round(n0 · 2^(k·exponent))` steps,
/// `k = 0 ... reductions` (`exponent = 1` halves the step each time).
struct StepSequence: Sendable, CustomStringConvertible {
    var tEnd: Double
    var n0: Double
    var exponent: Double = 1
    var reductions: Int = 5

    var stepSizes: [Double] {
        (0...reductions).map { tEnd / (n0 * pow(2, Double($0) * exponent)).rounded() }
    }
    var description: String { "T = \(tEnd), N0 = \(n0), step ratio 2^-\(exponent)" }
}

/// (a) The scalar non-autonomous linear problem `u' = cos(t) u`, `u(0) = 1`: `u = exp(sin t)`.
enum ScalarLinear {
    static func problem(tEnd: Double) -> ODEProblem<ClosureRHS<Double>> {
        ODEProblem(f: { du, u, p, t in du[0] = cos(t) * u[0] }, u0: [1.0], tspan: (0, tEnd))
    }
    static func exact(_ t: Double) -> [Double] { [exp(sin(t))] }
}

/// (b) A 4x2 matrix-valued linear system `U' = A(t) U`, `A(t) = cos(t) M`, the state flattened
/// row-major to 8 components. `M` couples the rows as two complex rows `w1 = U_0 + i U_1`,
/// `w2 = U_2 + i U_3`: `w1' = cos t (λ1 w1 + κ w2)`, `w2' = cos t λ2 w2`. Because `A(t)` commutes
/// with itself at all times, `U(t) = exp(sin(t) M) U(0)`:
/// `w2(t) = e^{λ2 s} w2(0)`, `w1(t) = e^{λ1 s} w1(0) + κ (e^{λ1 s} - e^{λ2 s}) / (λ1 - λ2) w2(0)`,
/// `s = sin t`.
///
/// (A constant `A`, such as DifferentialEquations.jl's `u' = 1.01 u`, would measure only a
/// method's stability polynomial, and several of these methods match `exp(z)` one order beyond
/// their order there, so their asymptotic order would show only near rounding.)
enum MatrixLinear {
    static let lambda1 = Complex(-0.3, 1.0)
    static let lambda2 = Complex(0.2, 0.7)
    static let kappa = 0.25
    static let u0: [Double] = [1.0, 0.5, 0.0, 1.0, -0.5, 0.2, 0.3, -1.0]
    /// `M` in real form, row-major 4x4.
    static let m: [Double] = [
        lambda1.re, -lambda1.im, kappa, 0,
        lambda1.im, lambda1.re, 0, kappa,
        0, 0, lambda2.re, -lambda2.im,
        0, 0, lambda2.im, lambda2.re,
    ]

    static func problem(tEnd: Double) -> ODEProblem<ClosureRHS<Double>> {
        ODEProblem(
            f: { du, u, p, t in
                let a = cos(t)
                for i in 0..<4 {
                    for j in 0..<2 {
                        var acc = 0.0
                        for k in 0..<4 { acc += m[4 * i + k] * u[2 * k + j] }
                        du[2 * i + j] = a * acc
                    }
                }
            }, u0: u0, tspan: (0, tEnd))
    }

    static func exact(_ t: Double) -> [Double] {
        let s = sin(t)
        let e1 = (lambda1 * s).exp, e2 = (lambda2 * s).exp
        let coupling = (e1 - e2) / (lambda1 - lambda2) * kappa
        var out = [Double](repeating: 0, count: 8)
        for j in 0..<2 {
            let w1 = Complex(u0[j], u0[2 + j]), w2 = Complex(u0[4 + j], u0[6 + j])
            let v1 = e1 * w1 + coupling * w2, v2 = e2 * w2
            out[j] = v1.re; out[2 + j] = v1.im; out[4 + j] = v2.re; out[6 + j] = v2.im
        }
        return out
    }
}

/// The little complex arithmetic `MatrixLinear.exact` needs.
struct Complex {
    var re: Double, im: Double
    init(_ re: Double, _ im: Double) { self.re = re; self.im = im }
    static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    static func * (a: Complex, b: Complex) -> Complex {
        Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    static func * (a: Complex, s: Double) -> Complex { Complex(a.re * s, a.im * s) }
    static func / (a: Complex, b: Complex) -> Complex {
        let d = b.re * b.re + b.im * b.im
        return Complex((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d)
    }
    var exp: Complex { Complex(Glibc.exp(re) * cos(im), Glibc.exp(re) * sin(im)) }
}

/// Largest error over every saved step of a fixed-step solve.
func maxStepError(
    _ tableau: ButcherTableau, _ problem: ODEProblem<ClosureRHS<Double>>, dt: Double,
    exact: (Double) -> [Double]
) throws -> Double {
    let sol = try solve(problem, TableauAlgorithm(tableau: tableau), dt: dt, adaptive: false)
    var worst = 0.0
    for (t, u) in zip(sol.t, sol.u) {
        for (x, y) in zip(u, exact(t)) { worst = max(worst, abs(x - y)) }
    }
    return worst
}

/// Largest dense-output error at 40 points off the step grid, spread over the whole span.
func maxDenseError(
    _ tableau: ButcherTableau, _ problem: ODEProblem<ClosureRHS<Double>>, dt: Double, tEnd: Double,
    exact: (Double) -> [Double]
) throws -> Double {
    let sol = try solve(problem, TableauAlgorithm(tableau: tableau), dt: dt, adaptive: false)
    var worst = 0.0
    for j in 0..<40 {
        let t = (Double(j) + 0.37) * tEnd / 40
        for (x, y) in zip(try sol(t), exact(t)) { worst = max(worst, abs(x - y)) }
    }
    return worst
}
