import Glibc
import Testing
import DiffEqCore
import AutoDiff
import ProblemLibrary
import Sensitivity

typealias D1 = Dual<1, Double>

/// Fourth-order central difference with step h: error O(h⁴ f⁽⁵⁾), rounding O(ε/h).
func centralDifference(_ f: (Double) -> Double, at x: Double, h: Double = 1e-3) -> Double {
    (-f(x + 2 * h) + 8 * f(x + h) - 8 * f(x - h) + f(x - 2 * h)) / (12 * h)
}

struct UnaryCase: CustomStringConvertible, Sendable {
    let name: String
    let dual: @Sendable (D1) -> D1
    let real: @Sendable (Double) -> Double
    let closedForm: @Sendable (Double) -> Double
    let points: [Double]
    var description: String { name }
}

let unaryCases: [UnaryCase] = [
    .init(name: "exp", dual: { exp($0) }, real: { Glibc.exp($0) }, closedForm: { Glibc.exp($0) }, points: [-1.3, 0, 0.7, 2]),
    .init(name: "expm1", dual: { expm1($0) }, real: { Glibc.expm1($0) }, closedForm: { Glibc.exp($0) }, points: [-1, 1e-3, 0.5]),
    .init(name: "log", dual: { log($0) }, real: { Glibc.log($0) }, closedForm: { 1 / $0 }, points: [0.3, 1, 5]),
    .init(name: "log1p", dual: { log1p($0) }, real: { Glibc.log1p($0) }, closedForm: { 1 / (1 + $0) }, points: [-0.5, 0, 3]),
    .init(name: "sin", dual: { sin($0) }, real: { Glibc.sin($0) }, closedForm: { Glibc.cos($0) }, points: [-2, 0, 0.4, 3]),
    .init(name: "cos", dual: { cos($0) }, real: { Glibc.cos($0) }, closedForm: { -Glibc.sin($0) }, points: [-2, 0, 0.4, 3]),
    .init(name: "tan", dual: { tan($0) }, real: { Glibc.tan($0) }, closedForm: { 1 / (Glibc.cos($0) * Glibc.cos($0)) }, points: [-1, 0, 0.5]),
    .init(name: "asin", dual: { asin($0) }, real: { Glibc.asin($0) }, closedForm: { 1 / (1 - $0 * $0).squareRoot() }, points: [-0.5, 0, 0.8]),
    .init(name: "acos", dual: { acos($0) }, real: { Glibc.acos($0) }, closedForm: { -1 / (1 - $0 * $0).squareRoot() }, points: [-0.5, 0, 0.8]),
    .init(name: "atan", dual: { atan($0) }, real: { Glibc.atan($0) }, closedForm: { 1 / (1 + $0 * $0) }, points: [-3, 0, 2]),
    .init(name: "sinh", dual: { sinh($0) }, real: { Glibc.sinh($0) }, closedForm: { Glibc.cosh($0) }, points: [-1, 0, 2]),
    .init(name: "cosh", dual: { cosh($0) }, real: { Glibc.cosh($0) }, closedForm: { Glibc.sinh($0) }, points: [-1, 0, 2]),
    .init(name: "tanh", dual: { tanh($0) }, real: { Glibc.tanh($0) }, closedForm: { 1 - Glibc.tanh($0) * Glibc.tanh($0) }, points: [-2, 0, 0.3]),
    .init(name: "sqrt", dual: { sqrt($0) }, real: { $0.squareRoot() }, closedForm: { 0.5 / $0.squareRoot() }, points: [0.01, 1, 7]),
    .init(name: "abs", dual: { abs($0) }, real: { Swift.abs($0) }, closedForm: { $0 < 0 ? -1 : 1 }, points: [-2, 3]),
    .init(name: "pow(x, 3)", dual: { pow($0, 3) }, real: { $0 * $0 * $0 }, closedForm: { 3 * $0 * $0 }, points: [-2, 0, 1.5]),
    .init(name: "pow(x, -2)", dual: { pow($0, -2) }, real: { 1 / ($0 * $0) }, closedForm: { -2 / ($0 * $0 * $0) }, points: [-2, 0.5, 3]),
    .init(name: "pow(x, 2.5)", dual: { pow($0, D1(2.5)) }, real: { Glibc.pow($0, 2.5) }, closedForm: { 2.5 * Glibc.pow($0, 1.5) }, points: [0.5, 2]),
    .init(name: "pow(2.5, x)", dual: { pow(D1(2.5), $0) }, real: { Glibc.pow(2.5, $0) }, closedForm: { Glibc.pow(2.5, $0) * Glibc.log(2.5) }, points: [-1, 0, 2]),
    .init(name: "x/(1+x^2)", dual: { $0 / (1 + $0 * $0) }, real: { $0 / (1 + $0 * $0) }, closedForm: { (1 - $0 * $0) / ((1 + $0 * $0) * (1 + $0 * $0)) }, points: [-2, 0, 1]),
]

@Suite struct DualTests {
    @Test(arguments: unaryCases)
    func elementaryDerivatives(_ c: UnaryCase) {
        for x in c.points {
            let d = c.dual(D1(x, seed: 0))
            #expect(d.value == c.real(x), "\(c.name) value at \(x)")
            let exact = c.closedForm(x)
            #expect(abs(d.partials[0] - exact) <= 1e-14 * max(1, abs(exact)), "\(c.name)' at \(x): \(d.partials[0]) vs \(exact)")
            // Steps shrink near the origin, where log and sqrt have their singularities.
            let fd = centralDifference(c.real, at: x, h: max(1e-5, 1e-3 * min(1, abs(x))))
            #expect(abs(d.partials[0] - fd) <= 1e-8 * max(1, abs(exact)), "\(c.name)' at \(x) vs central difference \(fd)")
        }
    }

    @Test func documentedConventionsAtNonDifferentiablePoints() {
        #expect(abs(D1(0, seed: 0)).partials[0] == 1)
        #expect(sqrt(D1(0, seed: 0)).partials[0] == .infinity)
        // An unperturbed zero stays derivative-free (no NaN from 0 * ∞).
        #expect(sqrt(D1(constant: 0)).partials[0] == 0)
        // pow(0, y): d/dy is taken as its limit 0 for y > 0, d/dx = y 0^(y-1).
        let p = pow(Dual<2, Double>(0, seed: 0), Dual<2, Double>(2, seed: 1))
        #expect(p.value == 0 && p.partials[0] == 0 && p.partials[1] == 0)
        #expect(pow(D1(0, seed: 0), 0).partials[0] == 0)
        #expect(pow(D1(0, seed: 0), 1).partials[0] == 1)
    }

    @Test func dualOfDualGivesSecondDerivatives() {
        // f(x) = x³ sin x: f'' = 6x sin x + 6x² cos x - x³ sin x.
        typealias DD = Dual<1, Dual<1, Double>>
        let x = 0.8
        let xx = DD(value: Dual(x, seed: 0), partials: [Dual(constant: 1)])
        let y = pow(xx, 3) * sin(xx)
        let exact = 6 * x * Glibc.sin(x) + 6 * x * x * Glibc.cos(x) - x * x * x * Glibc.sin(x)
        #expect(abs(y.partials[0].partials[0] - exact) < 1e-13)
    }

    @Test func hessianMatchesClosedForm() {
        // f(x, y, z) = x² y + exp(y z) + sin(x z).
        struct F: ScalarFunction {
            func callAsFunction<S: DiffEqScalar>(_ v: [S]) -> S { v[0] * v[0] * v[1] + exp(v[1] * v[2]) + sin(v[0] * v[2]) }
        }
        let (x, y, z) = (0.3, -0.7, 1.1)
        let H = hessian(of: F(), at: [x, y, z])
        let e = Glibc.exp(y * z), s = Glibc.sin(x * z), c = Glibc.cos(x * z)
        let exact: [[Double]] = [
            [2 * y - z * z * s, 2 * x, c - x * z * s],
            [2 * x, z * z * e, e + y * z * e],
            [c - x * z * s, e + y * z * e, y * y * e - x * x * s],
        ]
        for i in 0..<3 { for j in 0..<3 { #expect(abs(H[i, j] - exact[i][j]) < 1e-13, "H[\(i),\(j)]") } }
    }

    @Test func chunkedGradientAndJacobianMatchForAnyChunkSize() throws {
        // Rosenbrock function in 7 variables: chunks of 1, 3 and 8 must agree exactly.
        let x = [0.1, -0.4, 1.2, 0.7, -1.1, 0.3, 2.0]
        let g1 = gradient(of: { (y: [Dual<1, Double>]) in rosenbrock(y) }, at: x)
        let g3 = gradient(of: { (y: [Dual<3, Double>]) in rosenbrock(y) }, at: x)
        let g8 = gradient(of: { (y: [Dual<8, Double>]) in rosenbrock(y) }, at: x)
        #expect(g1 == g3 && g3 == g8)
        // Closed form.
        for i in 0..<7 {
            var gi = 0.0
            if i < 6 { gi += -400 * x[i] * (x[i + 1] - x[i] * x[i]) - 2 * (1 - x[i]) }
            if i > 0 { gi += 200 * (x[i] - x[i - 1] * x[i - 1]) }
            #expect(abs(g8[i] - gi) < 1e-12 * max(1, abs(gi)))
        }
        struct V: VectorFunction {
            func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> [S] { [x[0] * x[1], sin(x[2]) + x[0], x[1] / x[2]] }
        }
        let J = jacobian(of: V(), at: [1.5, -2, 0.5])
        let exact: [[Double]] = [[-2, 1.5, 0], [1, 0, Glibc.cos(0.5)], [0, 2, 8]]
        for i in 0..<3 { for j in 0..<3 { #expect(abs(J[i, j] - exact[i][j]) < 1e-14) } }
        let (value, dir) = try jvp(of: V(), at: [1.5, -2, 0.5], direction: [1, 0, 0])
        #expect(throws: ReverseModeError.self) { try jvp(of: V(), at: [1, 2, 3], direction: [1]) }
        #expect(value[0] == -3 && dir == [-2, 1, 0])
    }
}

@Test func rhsJacobiansByForwardModeMatchTheAnalyticOnes() throws {
    // Lorenz: ∂f/∂u is analytic in the model; ∂f/∂p = [[y - x, 0, 0], [0, x, 0], [0, 0, -z]].
    let u = [1.5, -2.0, 20.0], p = [10.0, 28.0, 8.0 / 3.0]
    let (ju, jp) = rhsJacobians(Lorenz(), u: u, p: p, t: 0)
    var analytic = [Double](repeating: 0, count: 9)
    Lorenz().jacobian(&analytic, u, p, 0)
    for i in 0..<3 { for j in 0..<3 { #expect(ju[i, j] == analytic[i + 3 * j]) } }
    let expected: [[Double]] = [[u[1] - u[0], 0, 0], [0, u[0], 0], [0, 0, -u[2]]]
    for i in 0..<3 { for j in 0..<3 { #expect(jp[i, j] == expected[i][j]) } }
    // The problem-level entry point accepts the generic form and refuses a closure with a
    // message that says what to do.
    _ = try rhsJacobians(TestProblems.lorenz().f, u: u, p: p, t: 0)
    let closure = ClosureRHS<Double> { du, u, p, t in du[0] = u[0] }
    #expect(throws: ReverseModeError.self) { try rhsJacobians(closure, u: [1], p: [], t: 0) }
}

/// The extended Rosenbrock function `Σᵢ 100 (x_{i+1} − x_i²)² + (1 − x_i)²` (Rosenbrock 1960),
/// shared by the forward- and reverse-mode tests.
func rosenbrock<S: DiffEqScalar>(_ x: [S]) -> S {
    var s = S.zero
    for i in 0..<(x.count - 1) {
        let a = x[i + 1] - x[i] * x[i]
        let b = 1 - x[i]
        s += 100 * a * a + b * b
    }
    return s
}
