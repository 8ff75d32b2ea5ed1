import DiffEqCore
import ExplicitRK
import Foundation
import StiffSolvers
import Testing

@testable import DelayDE

/// Problems of the DDETST set (Paul 1994, "A Test Set of Functional Differential Equations",
/// Manchester NA Report 243; Enright & Hayashi 1997, "A delay differential equation solver based
/// on a continuous Runge-Kutta method with defect control", Numer. Algorithms 16) with analytic
/// solutions, and Mackey-Glass (A1) against a reference computed twice.
/// `solve` with `reltol = abstol = tol`, opening an existential method.
func solveDDE<D: DDEFunction>(_ prob: DDEProblem<D>, _ method: some MethodOfStepsAlgorithm, tol: Double) throws
    -> ODESolution<D.Scalar>
{
    try solve(prob, MethodOfSteps(method), reltol: tol, abstol: .scalar(tol))
}

@Suite struct DDETSTTests {
    /// B1 (Neves 1975, in DDETST): u'(t) = 1 − u(exp(1 − 1/t)), φ(t) = log t, t ∈ [0.1, 10];
    /// u(t) = log t. The delay t − exp(1 − 1/t) vanishes at t = 1, where the delayed time
    /// catches up with t: there it is shorter than any step and is read extrapolated.
    @Test(arguments: [1e-6, 1e-9])
    func b1VanishingDelay(tol: Double) throws {
        let f: ClosureDDE<Double>.Function = { du, u, h, p, t in du[0] = 1 - h(p, Foundation.exp(1 - 1 / t), idxs: 0) }
        let history: ClosureDDE<Double>.History = { _, t in [Foundation.log(t)] }
        let lag: DependentLag = { _, _, t in t - Foundation.exp(1 - 1 / t) }
        let prob = DDEProblem(
            f: f, u0: [Foundation.log(0.1)], history: history, tspan: (0.1, 10), dependentLags: [lag])
        let methods: [any MethodOfStepsAlgorithm] = [Tsit5(), Vern7(), Rodas5P()]
        for method in methods {
            let sol = try solveDDE(prob, method, tol: tol)
            #expect(sol.retcode == .success)
            var worst = 0.0
            for t in stride(from: 0.2, through: 10, by: 0.1) {
                let exact = Foundation.log(t)
                let u = try sol(t)[0]
                worst = max(worst, abs(u - exact) / (tol * (1 + abs(exact))))
            }
            #expect(worst < 10, "\(method.name) at \(tol): \(worst) tolerances")
        }
    }

    /// D1 of Enright & Hayashi (1997), state-dependent: u₁' = u₂, u₂' = −u₂(exp(1 − u₂))·u₂²·exp(1 − u₂),
    /// φ(t) = (log t, 1/t), t ∈ [0.1, 5]; the solution is φ itself.
    @Test(arguments: [1e-6, 1e-9])
    func d1StateDependent(tol: Double) throws {
        let f: ClosureDDE<Double>.Function = { du, u, h, p, t in
            let e = Foundation.exp(1 - u[1])
            du[0] = u[1]
            du[1] = -h(p, e, idxs: 1) * u[1] * u[1] * e
        }
        let history: ClosureDDE<Double>.History = { _, t in [Foundation.log(t), 1 / t] }
        let lag: DependentLag = { u, _, t in t - Foundation.exp(1 - u[1]) }
        let prob = DDEProblem(f: f, u0: [Foundation.log(0.1), 10], history: history, tspan: (0.1, 5), dependentLags: [lag])
        let sol = try solve(prob, MethodOfSteps(Tsit5()), reltol: tol, abstol: .scalar(tol))
        #expect(sol.retcode == .success)
        var worst = 0.0
        for t in stride(from: 0.2, through: 5, by: 0.1) {
            let u = try sol(t)
            let e0: Double = abs(u[0] - Foundation.log(t)) / (tol * (1 + abs(Foundation.log(t))))
            let e1: Double = abs(u[1] - 1 / t) / (tol * (1 + 1 / t))
            worst = max(worst, e0, e1)
        }
        #expect(worst < 10, "\(worst) tolerances")
    }

    /// A neutral equation of Paul (1994) (also MATLAB's `ddensd` example):
    /// u'(t) = 1 + u(t) − 2u(t/2)² − u'(t − π), φ(t) = cos t, t ∈ [0, π]; u(t) = cos t. The
    /// neutral term reads the history's derivative (t − π ≤ 0 on the span).
    @Test func neutralPaul() throws {
        let f: ClosureDDE<Double>.Function = { du, u, h, p, t in
            let half = h(p, t / 2, idxs: 0)
            du[0] = 1 + u[0] - 2 * half * half - h.derivative(p, t - Double.pi, idxs: 0)
        }
        let history: ClosureDDE<Double>.History = { _, t in [Foundation.cos(t)] }
        let prob = DDEProblem(f: f, u0: [1.0], history: history, tspan: (0, Double.pi), constantLags: [Double.pi])
        let tol = 1e-8
        let sol = try solve(prob, MethodOfSteps(Vern7()), reltol: tol, abstol: .scalar(tol))
        #expect(sol.retcode == .success)
        var worst = 0.0
        for t in stride(from: 0.1, through: 3.1, by: 0.1) {
            let u = try sol(t)[0]
            worst = max(worst, abs(u - Foundation.cos(t)))
        }
        #expect(worst < 10 * tol, "\(worst)")
    }

    /// A1, Mackey & Glass (1977) in DDETST: u' = 0.2u(t − 14)/(1 + u(t − 14)¹⁰) − 0.1u, φ = 0.5,
    /// t ∈ [0, 500]. Reference from two independent methods:
    /// (1) `Reference/mackey_glass_rk4.py` (ours in no part: classical RK4 method of steps in
    ///     Python, fixed h = 1/M, Hermite half-step values), M = 64, 128, 256, Richardson-
    ///     extrapolated; the M = 128 and 256 values differ by ≤ 1.6e-13 (`mackey_glass_rk4.out`);
    /// (2) this module's MethodOfSteps(Vern9()) at reltol = abstol = 1e-13, which agrees with (1)
    ///     to the bound asserted below (`mackeyGlassReferencesAgree`);
    /// and a third, JiTCDDE 1.8.3 (`Reference/mackey_glass_jitcdde.py`, atol = rtol = 1e-13), within
    /// 1.9e-11 of (1) at every point and 5e-13 at t = 500 (`mackey_glass_jitcdde.out`).
    static let mackeyGlassReference: [(Double, Double)] = [
        (50, 5.1220304575546460e-01), (100, 8.2818774781057347e-01), (150, 1.0328172042647590e+00),
        (200, 1.2627331651569047e+00), (250, 1.0072183547168414e+00), (300, 5.4388363752501157e-01),
        (350, 8.1284582132974237e-01), (400, 1.0338060918693914e+00), (450, 1.2638264848737757e+00),
        (500, 1.0104431117001342e+00),
    ]

    static func mackeyGlass() -> DDEProblem<ClosureDDE<Double>> {
        let f: ClosureDDE<Double>.Function = { du, u, h, p, t in
            let d = h(p, t - 14, idxs: 0)
            du[0] = 0.2 * d / (1 + Foundation.pow(d, 10)) - 0.1 * u[0]
        }
        return DDEProblem(f: f, u0: [0.5], history: { _, _ in [0.5] }, tspan: (0, 500), constantLags: [14])
    }

    @Test func mackeyGlassReferencesAgree() throws {
        let sol = try solve(Self.mackeyGlass(), MethodOfSteps(Vern9()), reltol: 1e-13, abstol: 1e-13)
        #expect(sol.retcode == .success)
        for (t, v) in Self.mackeyGlassReference { #expect(abs(try sol(t)[0] - v) < 1e-10, "t = \(t)") }
    }

    @Test(arguments: [1e-6, 1e-10])
    func mackeyGlassWithinTolerances(tol: Double) throws {
        let methods: [any MethodOfStepsAlgorithm] = [Tsit5(), Vern7(), Rodas5P(), KenCarp4()]
        for method in methods {
            let sol = try solveDDE(Self.mackeyGlass(), method, tol: tol)
            #expect(sol.retcode == .success)
            var worst = 0.0
            for (t, v) in Self.mackeyGlassReference {
                let u = try sol(t)[0]
                worst = max(worst, abs(u - v) / (tol * (1 + v)))
            }
            // Global error over 35 lags of a problem whose perturbations grow: 100 tolerances.
            #expect(worst < 100, "\(method.name) at \(tol): \(worst) tolerances")
        }
    }
}

@Suite struct DDEValidationTests {
    func problem(lags: [Double] = [1], history: @escaping ClosureDDE<Double>.History = { _, _ in [1.0] })
        -> DDEProblem<ClosureDDE<Double>>
    {
        DDEProblem(
            f: { du, u, h, p, t in du[0] = -h(p, t - 1, idxs: 0) }, u0: [1.0], history: history, tspan: (0, 10),
            constantLags: lags)
    }

    @Test func badLags() {
        #expect(throws: DDEError.invalidLag(index: 0, value: -1)) { try solve(problem(lags: [-1]), MethodOfSteps(Tsit5())) }
        #expect(throws: DDEError.self) { try solve(problem(lags: [.nan]), MethodOfSteps(Tsit5())) }
        #expect(throws: DDEError.invalidLag(index: 1, value: 0)) { try solve(problem(lags: [1, 0]), MethodOfSteps(Tsit5())) }
    }

    @Test func historyOfWrongLength() {
        #expect(throws: DDEError.historyLengthMismatch(expected: 1, got: 2)) {
            try solve(problem(history: { _, _ in [1, 2] }), MethodOfSteps(Tsit5()))
        }
        #expect(throws: DDEError.nonFiniteHistory(component: 0, t: -1)) {
            try solve(problem(history: { _, t in [t < 0 ? .nan : 1] }), MethodOfSteps(Tsit5()))
        }
    }

    @Test func dependentLagNaN() {
        var prob = problem()
        prob.dependentLags = [{ _, _, _ in .nan }]
        do {
            _ = try solve(prob, MethodOfSteps(Tsit5()))
            Issue.record("a NaN lag at t0 was accepted")
        } catch {
            guard case .invalidDependentLag(0, let v) = error, v.isNaN else {
                Issue.record("unexpected error \(error)")
                return
            }
        }
    }

    /// A delayed time that turns NaN during the solve (a lag function failing part way) reads
    /// NaN from the history: the solve stops with `.unstable` and a message, no trap.
    @Test func delayedTimeNaNDuringTheSolve() throws {
        let prob = DDEProblem(
            f: { du, u, h, p, t in
                let tau: Double = t < 2 ? 1.0 : Double.nan
                du[0] = -h(p, t - tau, idxs: 0)
            },
            u0: [1.0], history: { _, _ in [1.0] }, tspan: (0, 10), constantLags: [1])
        let sol = try solve(prob, MethodOfSteps(Tsit5()))
        #expect(sol.retcode == .unstable)
        #expect(sol.message != nil)
        #expect(sol.t.last! >= 2 - 1e-9 && sol.t.last! < 10)
    }

    @Test func backwardSpanAndOptions() {
        var prob = problem()
        prob.tspan = (10, 0)
        #expect(throws: DDEError.backwardSpan(t0: 10, t1: 0)) { try solve(prob, MethodOfSteps(Tsit5())) }
        #expect(throws: DDEError.solve(.invalidRelativeTolerance(-1))) {
            try solve(problem(), MethodOfSteps(Tsit5()), reltol: -1)
        }
        var lagParameter = problem(lags: [])
        lagParameter.constantLagParameters = [3]
        #expect(throws: DDEError.lagParameterOutOfRange(index: 3, parameterCount: 0)) {
            try solve(lagParameter, MethodOfSteps(Tsit5()))
        }
    }
}

/// A stiff delay equation with an analytic solution (constructed, not from the RADAR5 set):
/// u'(t) = −10⁴(u(t) − sin t) + cos t + (u(t − 1) − sin(t − 1)), φ(t) = sin t, t ∈ [0, 100];
/// u = sin t. Rodas5P takes steps set by accuracy (hundreds) where an explicit method is held to
/// |hλ| ≲ 3 (10⁴ steps per unit of time). Rodas4 and KenCarp4 are checked against themselves on
/// the same equation as an ODE (the delayed term is then zero): Rodas4 takes 67 000 steps there
/// too (66 987 as an ODE, 66 935 as a DDE). KenCarp4's third-order dense output is 1 100
/// tolerances off between its steps as an ODE, and 4 700 as a DDE, whose delayed term reads the
/// same interpolant: a known issue (DESIGN.md, the ESDIRKs' interpolants), recorded below.
@Suite struct StiffDDETests {
    static let tol = 1e-8

    static func worst(_ sol: ODESolution<Double>) throws -> Double {
        var worst = 0.0
        for t in stride(from: 0.5, through: 100, by: 0.5) {
            let u = try sol(t)[0]
            worst = max(worst, abs(u - Foundation.sin(t)) / (tol * (1 + abs(Foundation.sin(t)))))
        }
        return worst
    }

    static func dde() -> DDEProblem<ClosureDDE<Double>> {
        let f: ClosureDDE<Double>.Function = { du, u, h, p, t in
            let delayed = h(p, t - 1, idxs: 0) - Foundation.sin(t - 1)
            du[0] = -1e4 * (u[0] - Foundation.sin(t)) + Foundation.cos(t) + delayed
        }
        return DDEProblem(f: f, u0: [0.0], history: { _, t in [Foundation.sin(t)] }, tspan: (0, 100), constantLags: [1])
    }

    @Test func rodas5PWithinTolerances() throws {
        let sol = try solve(Self.dde(), MethodOfSteps(Rodas5P()), reltol: Self.tol, abstol: .scalar(Self.tol))
        #expect(sol.retcode == .success)
        let e = try Self.worst(sol)
        #expect(e < 10, "\(e) tolerances, \(sol.stats.naccept) steps")
        #expect(sol.stats.naccept < 2_000, "\(sol.stats.naccept) steps")
    }

    @Test func rodas4AndKenCarp4AsOnTheODE() throws {
        let ode = ODEProblem(
            ClosureRHS<Double>({ du, u, _, t in du[0] = -1e4 * (u[0] - Foundation.sin(t)) + Foundation.cos(t) }),
            u0: [0.0], tspan: (0, 100))
        let pairs: [(ODESolution<Double>, ODESolution<Double>, String)] = [
            (try solve(Self.dde(), MethodOfSteps(Rodas4()), reltol: Self.tol, abstol: .scalar(Self.tol)),
             try solve(ode, Rodas4(), reltol: Self.tol, abstol: .scalar(Self.tol), dtmax: 1), "Rodas4"),
            (try solve(Self.dde(), MethodOfSteps(KenCarp4()), reltol: Self.tol, abstol: .scalar(Self.tol)),
             try solve(ode, KenCarp4(), reltol: Self.tol, abstol: .scalar(Self.tol), dtmax: 1), "KenCarp4"),
        ]
        for (dde, plain, name) in pairs {
            #expect(dde.retcode == .success, "\(name)")
            #expect(Double(dde.stats.naccept) <= 1.1 * Double(plain.stats.naccept), "\(name): \(dde.stats.naccept) vs \(plain.stats.naccept) steps")
            let (a, b) = (try Self.worst(dde), try Self.worst(plain))
            if name == "KenCarp4" {
                withKnownIssue("KenCarp4's third-order interpolant as the history: DDE \(a), ODE \(b) tolerances") {
                    #expect(a <= 3 * max(b, 1))
                }
            } else {
                #expect(a <= 3 * max(b, 1), "\(name): DDE \(a), ODE \(b) tolerances")
            }
        }
    }
}

/// State-dependent tracking: on B1 the delayed time exp(1 − 1/t) reaches t0 = 0.1 at
/// t* = 1/(1 − log 0.1), where u'' of the solution may jump (u' jumps at t0 in general); the
/// callback locates t* on the dense output and the solve steps exactly onto it.
@Test func dependentLagDiscontinuityIsAStepPoint() throws {
    let f: ClosureDDE<Double>.Function = { du, u, h, p, t in du[0] = 1 - h(p, Foundation.exp(1 - 1 / t), idxs: 0) }
    let lag: DependentLag = { _, _, t in t - Foundation.exp(1 - 1 / t) }
    let prob = DDEProblem(
        f: f, u0: [Foundation.log(0.1)], history: { _, t in [Foundation.log(t)] }, tspan: (0.1, 10), dependentLags: [lag])
    let target = 1 / (1 - Foundation.log(0.1))
    let on = try solve(prob, MethodOfSteps(Tsit5()), reltol: 1e-8, abstol: 1e-8)
    let off = try solve(prob, MethodOfSteps(Tsit5(), trackDiscontinuities: false), reltol: 1e-8, abstol: 1e-8)
    #expect(on.retcode == .success && off.retcode == .success)
    let nearestOn = on.t.map { abs($0 - target) }.min()!
    let nearestOff = off.t.map { abs($0 - target) }.min()!
    #expect(nearestOn < 1e-12, "closest step point to t* = \(target): \(nearestOn)")
    #expect(nearestOff > 1e-6, "without tracking: \(nearestOff)")
}
