import Glibc
import Testing
import DiffEqCore
import AutoDiff
import ProblemLibrary

/// One elementary operation written once over the scalar protocol, on one or two inputs.
enum ReverseElementary: String, CaseIterable, CustomStringConvertible, Sendable, ScalarFunction {
    case exp, expm1, log, log1p, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh, sqrt, abs, negate
    case powInt3 = "pow(x, 3)", powIntMinus2 = "pow(x, -2)", powConstExponent = "pow(x, 2.5)"
    case powConstBase = "pow(2.5, x)", powBoth = "pow(x, y)"
    case add = "x + y", subtract = "x - y", multiply = "x * y", divide = "x / y"
    case addConst = "x + 2", constMinus = "2 - x", minusConst = "x - 2", timesConst = "3 * x"
    case divConst = "x / 3", constDiv = "3 / x", scaled = "x.scaled(by: 1.7)"
    case compound = "x sin(y) / (1 + x^2)"

    var description: String { rawValue }

    var arity: Int {
        switch self {
        case .powBoth, .add, .subtract, .multiply, .divide, .compound: return 2
        default: return 1
        }
    }

    /// Points where the function and its derivative are defined.
    var points: [[Double]] {
        switch self {
        case .log, .sqrt, .powConstExponent: return [[0.3], [1], [5]]
        case .log1p: return [[-0.5], [0], [3]]
        case .asin, .acos: return [[-0.5], [0], [0.8]]
        case .tan: return [[-1], [0], [0.5]]
        case .abs: return [[-2], [0], [3]]
        case .powIntMinus2, .constDiv: return [[-2], [0.5], [3]]
        case .powBoth: return [[0.5, 1.5], [2, -0.7], [1.3, 2]]
        case .divide: return [[1, 2], [-3, 0.5], [0, 4]]
        case .add, .subtract, .multiply, .compound: return [[1, 2], [-3, 0.5], [0, 4]]
        default: return [[-1.3], [0], [0.7], [2]]
        }
    }

    func callAsFunction<S: DiffEqScalar>(_ v: [S]) -> S {
        let x = v[0]
        switch self {
        case .exp: return DiffEqCore.exp(x)
        case .expm1: return DiffEqCore.expm1(x)
        case .log: return DiffEqCore.log(x)
        case .log1p: return DiffEqCore.log1p(x)
        case .sin: return DiffEqCore.sin(x)
        case .cos: return DiffEqCore.cos(x)
        case .tan: return DiffEqCore.tan(x)
        case .asin: return DiffEqCore.asin(x)
        case .acos: return DiffEqCore.acos(x)
        case .atan: return DiffEqCore.atan(x)
        case .sinh: return DiffEqCore.sinh(x)
        case .cosh: return DiffEqCore.cosh(x)
        case .tanh: return DiffEqCore.tanh(x)
        case .sqrt: return DiffEqCore.sqrt(x)
        case .abs: return DiffEqCore.abs(x)
        case .negate: return -x
        case .powInt3: return DiffEqCore.pow(x, 3)
        case .powIntMinus2: return DiffEqCore.pow(x, -2)
        case .powConstExponent: return DiffEqCore.pow(x, S(2.5))
        case .powConstBase: return DiffEqCore.pow(S(2.5), x)
        case .powBoth: return DiffEqCore.pow(x, v[1])
        case .add: return x + v[1]
        case .subtract: return x - v[1]
        case .multiply: return x * v[1]
        case .divide: return x / v[1]
        case .addConst: return x + 2
        case .constMinus: return 2 - x
        case .minusConst: return x - 2
        case .timesConst: return 3 * x
        case .divConst: return x / 3
        case .constDiv: return 3 / x
        case .scaled: return x.scaled(by: 1.7)
        case .compound: return x * DiffEqCore.sin(v[1]) / (1 + x * x)
        }
    }
}

/// A scalar function of 12 variables mixing every kind of operation.
struct ReverseTestLoss: ScalarFunction {
    func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> S {
        var s = rosenbrock(x)
        s += DiffEqCore.exp(x[0] * x[1]) / (2 + DiffEqCore.sin(x[2])) + DiffEqCore.sqrt(1 + x[3] * x[3])
        s += DiffEqCore.pow(DiffEqCore.abs(x[4]) + 1, x[5]) + DiffEqCore.log1p(x[6] * x[6]) * DiffEqCore.atan(x[7])
        return s
    }
}

/// A vector function of 5 variables to 3 outputs.
struct ReverseTestVectorFunction: VectorFunction {
    func callAsFunction<S: DiffEqScalar>(_ x: [S]) -> [S] {
        [
            x[0] * x[1] + DiffEqCore.sin(x[2]),
            DiffEqCore.exp(x[3] / 4) * x[4] - x[0],
            DiffEqCore.pow(x[1], 3) + DiffEqCore.tanh(x[2] * x[4]),
        ]
    }
}

/// A right-hand side that depends on time.
struct ReverseTestForced: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = p[0] * DiffEqCore.sin(t) * u[0] - u[1]
        du[1] = u[0] * DiffEqCore.exp(-p[1] * t)
    }
}

@Suite struct ReverseTests {
    @Test(arguments: ReverseElementary.allCases)
    func elementaryDerivativeMatchesForwardMode(_ f: ReverseElementary) {
        for x in f.points {
            let reverse = reverseGradient(of: f, at: x)
            let forward = gradient(of: f, at: x)
            #expect(reverse.count == f.arity)
            for k in x.indices {
                #expect(
                    reverseTestClose(reverse[k], forward[k], scale: 1, rtol: 2e-16 * 4),
                    "\(f) ∂/∂x\(k) at \(x): reverse \(reverse[k]), forward \(forward[k])")
            }
            // The value recorded is the plain Double value.
            let tape = ReverseTape()
            let y = f(tape.variables(x))
            #expect(y.value == f(x), "\(f) value at \(x)")
        }
    }

    @Test(arguments: ReverseElementary.allCases)
    func elementaryReplayEqualsFreshRecording(_ f: ReverseElementary) throws {
        let tape = ReverseTape()
        let pts = f.points
        let y = f(tape.variables(pts[0]))
        for x in pts.dropFirst() {
            try tape.replay(inputs: x)
            tape.pullback(output: y)
            #expect(tape.value(of: y) == f(x), "\(f) replayed value at \(x)")
            #expect(tape.variableAdjoints() == reverseGradient(of: f, at: x), "\(f) replayed gradient at \(x)")
        }
    }

    @Test func conventionsAtNonDifferentiablePoints() {
        // abs'(0) = +1 (right derivative), as Dual.
        #expect(reverseGradient(of: { (x: [Tracked]) in abs(x[0]) }, at: [0]) == [1])
        // d/dy x^y at x = 0 is 0; d/dx 0^2 = 0.
        #expect(reverseGradient(of: { (x: [Tracked]) in pow(x[0], x[1]) }, at: [0, 2]) == [0, 0])
        // sqrt'(0) = +∞.
        #expect(reverseGradient(of: { (x: [Tracked]) in sqrt(x[0]) }, at: [0]) == [.infinity])
        // pow(x, 0) is the constant 1.
        #expect(reverseGradient(of: { (x: [Tracked]) in pow(x[0], 0) }, at: [3]) == [0])
        // A zero adjoint contributes nothing through an infinite partial: f = y + 0·sqrt(x) at x = 0.
        #expect(reverseGradient(of: { (x: [Tracked]) in x[1] + sqrt(x[0]) * 0 }, at: [0, 1]) == [0, 1])
    }

    @Test func gradientOfScalarFunctionMatchesForwardMode() {
        var rng = ReverseTestRandom(seed: 7)
        let x = rng.array(12, scale: 0.9)
        let reverse = reverseGradient(of: ReverseTestLoss(), at: x)
        let forward = gradient(of: ReverseTestLoss(), at: x)
        for k in x.indices {
            #expect(reverseTestClose(reverse[k], forward[k], scale: 1e3), "∂/∂x\(k): \(reverse[k]) vs \(forward[k])")
        }
    }

    @Test func vjpOfVectorFunctionMatchesForwardJacobian() throws {
        let x = [0.3, -1.2, 0.8, 2.0, 0.5]
        let v = [1.5, -0.25, 2.0]
        let (value, g) = try vjp(of: ReverseTestVectorFunction(), at: x, cotangent: v)
        let J = jacobian(of: ReverseTestVectorFunction(), at: x)
        #expect(value == ReverseTestVectorFunction()(x))
        for j in x.indices {
            let expected = (0..<3).reduce(0.0) { $0 + J[$1, j] * v[$1] }
            #expect(reverseTestClose(g[j], expected, scale: 10), "column \(j)")
        }
        #expect(throws: ReverseModeError.dimensionMismatch(what: "cotangent", expected: 3, got: 2)) {
            _ = try vjp(of: ReverseTestVectorFunction(), at: x, cotangent: [1, 2])
        }
    }

    @Test func rhsVJPMatchesForwardJacobianTransposeV() throws {
        func check<M: ODEModel>(_ name: String, _ model: M, u: [Double], p: [Double], t: Double, v: [Double]) throws {
            let (du, dp) = try rhsVJP(model, u: u, p: p, t: t, v: v)
            let fwd = forwardRHSVJP(model, u: u, p: p, t: t, v: v)
            for i in u.indices {
                #expect(reverseTestClose(du[i], fwd.du[i], scale: fwd.scale[i]), "\(name) du[\(i)]: \(du[i]) vs \(fwd.du[i])")
            }
            for k in p.indices {
                #expect(
                    reverseTestClose(dp[k], fwd.dp[k], scale: fwd.scale[u.count + k]),
                    "\(name) dp[\(k)]: \(dp[k]) vs \(fwd.dp[k])")
            }
        }
        try check("Lotka-Volterra", LotkaVolterra(), u: [1.2, 0.7], p: [1.5, 1, 3, 1], t: 0.3, v: [0.8, -1.1])
        try check("Lorenz", Lorenz(), u: [1, -2, 20], p: [10, 28, 8.0 / 3.0], t: 0, v: [1, 2, -0.5])
        try check("ROBER", Rober(), u: [0.9, 3e-5, 0.1], p: [0.04, 3e7, 1e4], t: 10, v: [1, -1, 0.3])
        try check("forced", ReverseTestForced(), u: [0.4, -0.3], p: [2, 0.5], t: 1.3, v: [1, 1])
        var rng = ReverseTestRandom(seed: 42)
        let mlp = ReverseTestMLP(inputs: 2, hidden: 50, activation: .tanh)
        try check("2-50-2 tanh MLP", mlp, u: [0.6, -0.4], p: rng.array(mlp.parameterCount, scale: 0.5), t: 0, v: [1, -2])
        try check("2-50-2 scalar MLP", ReverseTestScalarMLP(inputs: 2, hidden: 50), u: [0.6, -0.4],
                  p: rng.array(mlp.parameterCount, scale: 0.5), t: 0, v: [1, -2])
    }

    @Test func timeAdjointMatchesForwardDerivative() throws {
        let u = [0.4, -0.3], p = [2.0, 0.5], t = 1.3, v = [1.0, -2.0]
        let tape = RHSTape(ReverseTestForced())
        _ = try tape.vjp(u: u, p: p, t: t, v: v)
        let dfdt = derivative(of: { (s: Dual<1, Double>) -> Dual<1, Double> in
            var du = [Dual<1, Double>](repeating: .zero, count: 2)
            ReverseTestForced().rhs(&du, u.map { Dual(constant: $0) }, p.map { Dual(constant: $0) }, s)
            return du[0] * Dual(constant: v[0]) + du[1] * Dual(constant: v[1])
        }, at: t)
        #expect(reverseTestClose(tape.timeAdjoint, dfdt, scale: 2))
        var du = [Double](repeating: 0, count: 2)
        ReverseTestForced().rhs(&du, u, p, t)
        #expect(tape.value == du)
    }

    @Test func closureFormRightHandSideThrowsReadableError() throws {
        let closure = ClosureRHS<Double> { du, u, p, _ in du[0] = p[0] * u[0] }
        #expect(throws: ReverseModeError.self) { _ = try RHSTape(closure) }
        do {
            _ = try rhsVJP(closure, u: [1], p: [2], t: 0, v: [1])
            Issue.record("expected an error")
        } catch {
            guard case .closureRightHandSide = error else { Issue.record("wrong error \(error)"); return }
            #expect(error.description.contains("ODEModel"))
        }
        // The generic form, given as a problem's right-hand side, works: statically (specialised)
        // and from generic code that only knows F: ODEFunction (dynamic cast).
        let prob = TestProblems.lotkaVolterra()
        let (du, dp) = try rhsVJP(prob.f, u: [1, 1], p: [1.5, 1, 3, 1], t: 0, v: [1, 0])
        #expect(du == [0.5, -1])
        #expect(dp == [1, -1, 0, 0])
        func throughGenericCode<F: ODEFunction>(_ f: F) throws -> [Double] {
            try RHSTape(f).vjp(u: [1, 1], p: [1.5, 1, 3, 1], t: 0, v: [1, 0]).dp
        }
        #expect(try throughGenericCode(prob.f) == [1, -1, 0, 0])
        #expect(throws: ReverseModeError.closureRightHandSide(type: "ClosureRHS<Double>")) {
            try throughGenericCode(closure)
        }
    }

    @Test func dimensionsAreChecked() {
        let tape = RHSTape(LotkaVolterra())
        #expect(throws: ReverseModeError.dimensionMismatch(what: "v", expected: 2, got: 3)) {
            _ = try tape.vjp(u: [1, 1], p: [1.5, 1, 3, 1], t: 0, v: [1, 0, 0])
        }
    }

    @Test func tapeGrowsBeyondItsInitialCapacity() {
        let n = 3000
        let tape = ReverseTape(capacity: 16)
        let x = tape.variables([0.5, 1.5])
        var s = x[0]
        for _ in 0..<n { s = s * 0.999 + x[1] * 1e-3 }
        tape.pullback(output: s)
        let g = tape.variableAdjoints()
        let forward = derivative(of: { (y: Dual<1, Double>) -> Dual<1, Double> in
            var s = y
            for _ in 0..<n { s = s * 0.999 + Dual(constant: 1.5) * 1e-3 }
            return s
        }, at: 0.5)
        #expect(reverseTestClose(g[0], forward, scale: 1))
        #expect(tape.count > n)
    }
}
