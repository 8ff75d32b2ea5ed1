import DiffEqCore
import ExplicitRK
import Foundation
import StiffSolvers
import Testing

@testable import DelayDE

/// u'(t) = −u(t − 1), φ = 1 for t ≤ 0 (Paul 1994, A Test Set of Functional Differential
/// Equations, eq. 1.1.1 with A = −1, B = 1, C = 1): the exact solution is
/// u(t) = Σ_{n=0}^{⌊t⌋+1} (−1)^n (t − n + 1)^n / n!, a polynomial of degree k + 1 on [k, k + 1].
/// Values at the integers in exact rationals (the same recursion in Python's `fractions`,
/// integrating the previous piece): u(2) = −1/2, u(3) = −1/6, u(4) = 5/24, u(5) = 19/120,
/// u(9) = 19223/362880, u(10) = 10493/518400. (Issue 18 quotes −1/2, 5/24 and 19223/362880 as
/// u(3), u(5) and u(10): those are u(2), u(4) and u(9).)
func exactUnitLag(_ t: Double) -> Double {
    var sum = 0.0
    var factorial = 1.0
    let top = Int(t.rounded(.down)) + 1
    for n in 0...top {
        if n > 0 { factorial *= Double(n) }
        let base = t - Double(n - 1)
        if base < 0 { continue }
        sum += (n % 2 == 0 ? 1 : -1) * Foundation.pow(base, Double(n)) / factorial
    }
    return sum
}

let unitLagValues: [(Double, Double)] = [
    (2, -1.0 / 2), (3, -1.0 / 6), (4, 5.0 / 24), (5, 19.0 / 120), (9, 19223.0 / 362880), (10, 10493.0 / 518400),
]

func unitLagProblem() -> DDEProblem<ClosureDDE<Double>> {
    DDEProblem(
        f: { du, u, h, p, t in du[0] = -h(p, t - 1, idxs: 0) },
        u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 10), constantLags: [1])
}

let allMethods: [any MethodOfStepsAlgorithm] = [
    Tsit5(), DP5(), BS3(), Vern6(), Vern7(), Vern8(), Vern9(),
    Rosenbrock23(), Rodas4(), Rodas5P(), KenCarp4(), Kvaerno5(), TRBDF2(),
]

/// Largest error at the integers 1...10 in tolerances (`reltol·|u| + abstol`, abstol = reltol).
func unitLagError(_ method: some MethodOfStepsAlgorithm, tol: Double) throws -> (Double, ReturnCode, Int) {
    let sol = try solve(unitLagProblem(), MethodOfSteps(method), reltol: tol, abstol: .scalar(tol))
    var worst = 0.0
    for k in 1...10 {
        let t = Double(k)
        let u = try sol(t)[0]
        let exact = exactUnitLag(t)
        worst = max(worst, abs(u - exact) / (tol * (1 + abs(exact))))
    }
    return (worst, sol.retcode, sol.stats.naccept)
}

/// The same equation as an ODE with the history replaced by the exact solution,
/// u' = −u_exact(t − 1), stops at the integers (where the forcing has kinks): what a method's
/// error is without the method of steps, in the same tolerance units.
func odeUnitLagError(_ method: some ODEAlgorithm, tol: Double) throws -> Double {
    let ode = ODEProblem(
        ClosureRHS<Double>({ du, _, _, t in du[0] = t < 1 ? -1 : -exactUnitLag(t - 1) }), u0: [1.0], tspan: (0, 10))
    let sol = try solve(ode, method, reltol: tol, abstol: .scalar(tol), tstops: (1...9).map(Double.init))
    var worst = 0.0
    for k in 1...10 {
        let exact = exactUnitLag(Double(k))
        worst = max(worst, abs(try sol(Double(k))[0] - exact) / (tol * (1 + abs(exact))))
    }
    return worst
}

@Suite struct UnitLagTests {
    /// The series in Double against the rationals, to its rounding: the alternating terms reach
    /// 4e3 at t = 10, so the sum carries about (Σ|terms|)·ε of rounding.
    @Test func exactSeriesMatchesTheRationals() {
        for (t, v) in unitLagValues {
            var magnitude = 0.0, factorial = 1.0
            for n in 0...(Int(t) + 1) {
                if n > 0 { factorial *= Double(n) }
                magnitude += Foundation.pow(max(0, t - Double(n - 1)), Double(n)) / factorial
            }
            #expect(abs(exactUnitLag(t) - v) <= 4 * magnitude * Double.ulpOfOne, "u(\(t))")
        }
    }

    /// Within 10 tolerances at the integers for every method, except three measured known issues:
    /// - Rosenbrock23 and TRBDF2 (order 2) sum thousands of local errors (357-7550 steps); the same
    ///   methods on the ODE u' = −u_exact(t − 1) (the history replaced by the exact solution, stops
    ///   at the integers) are as far off, so the method of steps adds nothing: checked here, DDE
    ///   error ≤ 3 x the ODE's.
    /// - Kvaerno5's dense output is a cubic Hermite (none is published; DESIGN.md): the history
    ///   read between its long steps is third order, 3.4e6 tolerances at 1e-10 with 139 steps, and
    ///   76 at 1e-6 with 35 steps (230 while steps were capped at the lag). Use a method with a high-order interpolant for delay equations.
    @Test(arguments: [1e-6, 1e-10])
    func everyMethodWithinTenTolerances(tol: Double) throws {
        for method in allMethods {
            let (worst, code, steps) = try unitLagError(method, tol: tol)
            #expect(code == .success, "\(method.name)")
            switch method.name {
            case "Rosenbrock23", "TRBDF2":
                let ode = method.name == "TRBDF2"
                    ? try odeUnitLagError(TRBDF2(), tol: tol) : try odeUnitLagError(Rosenbrock23(), tol: tol)
                #expect(worst <= 3 * ode, "\(method.name) at \(tol): DDE \(worst), ODE \(ode) tolerances")
                withKnownIssue("\(method.name) at \(tol): \(worst) tolerances (\(steps) steps); the ODE alone: \(ode)") {
                    #expect(worst < 10)
                }
            case "Kvaerno5":
                withKnownIssue("Kvaerno5's cubic Hermite history: \(worst) tolerances at \(tol) (\(steps) steps)") {
                    #expect(worst < 10)
                }
            default:
                #expect(worst < 10, "\(method.name) at \(tol): \(worst) tolerances, \(steps) steps")
            }
        }
    }

    @Test func endValueTsit5() throws {
        let sol = try solve(unitLagProblem(), MethodOfSteps(Tsit5()), reltol: 1e-10, abstol: 1e-10)
        for (t, v) in unitLagValues {
            #expect(abs(try sol(t)[0] - v) < 1e-9, "u(\(t))")
        }
        #expect(abs(sol.u.last![0] - 10493.0 / 518400) < 1e-9)
    }

    /// Observed order on Hutchinson's equation u' = 1.8·u·(1 − u(t − 1)), φ = 0.5 (nonlinear: on
    /// u' = −u(t − 1), each piece is a quadrature, where Vern6 shows its quadrature order 7). u'
    /// jumps at 0, so u'' at 1, u‴ at 2, and so on. Fixed steps h = 1/(k + 1/2), k = 2, 4, 8, …, do
    /// not divide the lag: without tracking a step straddles t = 1 and its local error O(h²)
    /// caps the global order near 2; with the propagated points as stops each unit interval is k
    /// steps of h and one of h/2, the same pattern at every k, and the method keeps its order.
    /// Largest error at t = 1...5 against MethodOfSteps(Vern9()) at reltol = abstol = 1e-14
    /// (tracked; its accuracy is what the unit-lag tests check). The slope is taken over the
    /// asymptotic range, from the second step size to the last, `log(e_1/e_last) / log(h_1/h_last)`:
    /// consecutive slopes scatter by ±0.5 near the reference's accuracy (Tsit5: 4.72, 4.66, 5.63).
    /// Measured (tracking on): Tsit5 5.28, DP5 within 0.3 of 5, Vern6 7.0, Vern7 6.9. Vern6 is one
    /// above its order here, as on the dense-output test (DESIGN.md, 6.87), so the band is
    /// [p − 0.3, p + 1.3] as that table's.
    @Test(arguments: [(0, 5.0, 6), (1, 5.0, 5), (2, 6.0, 4), (3, 7.0, 3)])
    func observedOrder(index: Int, order: Double, solves: Int) throws {
        let methods: [any MethodOfStepsAlgorithm] = [Tsit5(), DP5(), Vern6(), Vern7()]
        let method = methods[index]
        let f: ClosureDDE<Double>.Function = { du, u, h, p, t in
            let delayed = h(p, t - 1, idxs: 0)
            du[0] = 1.8 * u[0] * (1 - delayed)
        }
        let prob = DDEProblem(f: f, u0: [0.5], history: { _, _ in [0.5] }, tspan: (0, 5), constantLags: [1])
        let reference = try solve(prob, MethodOfSteps(Vern9()), reltol: 1e-14, abstol: 1e-14)
        let exact = try (1...5).map { try reference(Double($0))[0] }
        let steps = (0..<solves).map { 1 / (Double(2 << $0) + 0.5) }
        func errors(_ m: some MethodOfStepsAlgorithm, tracking: Bool) throws -> [Double] {
            try steps.map { h in
                let sol = try solve(prob, MethodOfSteps(m, trackDiscontinuities: tracking), dt: h, adaptive: false)
                return try (1...5).map { abs(try sol(Double($0))[0] - exact[$0 - 1]) }.max()!
            }
        }
        func slopes(_ e: [Double]) -> [Double] {
            (1..<e.count).map { j -> Double in
                let ratio: Double = e[j - 1] / e[j]
                let stepRatio: Double = steps[j - 1] / steps[j]
                return Foundation.log(ratio) / Foundation.log(stepRatio)
            }
        }
        let on = try errors(method, tracking: true)
        let off = try errors(method, tracking: false)
        func slope(_ e: [Double]) -> Double {
            Foundation.log(e[1] / e[e.count - 1]) / Foundation.log(steps[1] / steps[steps.count - 1])
        }
        let observed = slope(on)
        #expect(observed >= order - 0.3 && observed <= order + 1.3, "\(method.name) tracking on: errors \(on), slopes \(slopes(on)), observed \(observed)")
        #expect(slope(off) < order - 1.5, "\(method.name) tracking off: errors \(off), slopes \(slopes(off)), observed \(slope(off))")
        #expect(off.last! > 100 * on.last!, "\(method.name): tracking on \(on.last!), off \(off.last!)")
    }
}

/// The one-lag path of the propagated points (`singleLagLevels`) against the general frontier,
/// reached with the same lag given twice (the general path merges the copies into one lag, so
/// its points are the same sums): every point, level and refusal must be the same, bit for bit.
@Suite struct PropagatedDiscontinuityTests {
    @Test(arguments: [(0.0, 10.0, 1.0), (0.0, 10.0, 0.3), (-2.5, 7.1, 0.7), (0.0, 20.0, 0.01), (1e6, 1e6 + 3, 0.1)])
    func oneLagMatchesTheGeneralFrontier(t0: Double, t1: Double, lag: Double) throws {
        for levels in [0, 1, 5, Int.max] {
            let one = try propagatedDiscontinuityLevels(t0: t0, t1: t1, lags: [lag], levels: levels, limit: 100_000)
            let twice = try propagatedDiscontinuityLevels(t0: t0, t1: t1, lags: [lag, lag], levels: levels, limit: 100_000)
            #expect(one.map(\.t) == twice.map(\.t), "t0 \(t0), t1 \(t1), lag \(lag), levels \(levels)")
            #expect(one.map(\.level) == twice.map(\.level), "t0 \(t0), t1 \(t1), lag \(lag), levels \(levels)")
            #expect(one.map(\.level) == Array(0..<one.count).map { $0 + 1 })
            #expect(one.count <= levels && (levels == 0 || !one.isEmpty))
        }
        // Too many points: the same refusal from both paths.
        let limit = 5
        var oneError: DDEError?
        var twiceError: DDEError?
        do { _ = try propagatedDiscontinuityLevels(t0: t0, t1: t1, lags: [lag], levels: Int.max, limit: limit) } catch { oneError = error }
        do { _ = try propagatedDiscontinuityLevels(t0: t0, t1: t1, lags: [lag, lag], levels: Int.max, limit: limit) } catch { twiceError = error }
        #expect(oneError != nil && oneError == twiceError)
    }
}
