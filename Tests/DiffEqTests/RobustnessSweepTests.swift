// Adversarial sweep of the public API: bad input must give a thrown DiffEqError or a return code
// with a message, never a trap, a hang, output from C, or `.success` with garbage.
import DiffEq
import Foundation
import Synchronization
import Testing
import ProblemLibrary
import SundialsBridge
import SensitivityCVODES

private struct Decay: ODEModel {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        for i in u.indices { du[i] = -u[i] }
    }
}

/// The algorithms of the sweep, by name, solving any problem.
let sweepAlgorithms = [
    "Tsit5", "DP5", "Vern9", "RK4", "Rodas5P", "Rosenbrock23", "TRBDF2", "KenCarp4", "AutoTsit5",
    "CVODE_Adams", "CVODE_BDF", "GEC",
]

func sweepSolve<F: ODEFunction>(_ name: String, _ prob: ODEProblem<F>, _ o: SolveOptions) throws(DiffEqError)
    -> ODESolution<F.Scalar>
{
    var o = o
    switch name {
    case "Tsit5": return try solve(prob, Tsit5(), options: o)
    case "DP5": return try solve(prob, DP5(), options: o)
    case "Vern9": return try solve(prob, Vern9(), options: o)
    case "RK4":
        if o.dt == nil { o.dt = 0.01 }
        return try solve(prob, RK4(), options: o)
    case "Rodas5P": return try solve(prob, Rodas5P(), options: o)
    case "Rosenbrock23": return try solve(prob, Rosenbrock23(), options: o)
    case "TRBDF2": return try solve(prob, TRBDF2(), options: o)
    case "KenCarp4": return try solve(prob, KenCarp4(), options: o)
    case "AutoTsit5": return try solve(prob, AutoTsit5(Rosenbrock23()), options: o)
    case "CVODE_Adams": return try solve(prob, CVODE_Adams(), options: o)
    case "CVODE_BDF": return try solve(prob, CVODE_BDF(), options: o)
    case "GEC": return try solve(prob, GlobalErrorControl(Tsit5()), options: o)
    default: fatalError(name)
    }
}

/// The standard: a throw where the input is refused (`expectThrow`), else a failure code with a
/// message (required with `expectFailure`) or a success whose states are finite and which
/// reached the end of the span.
func checkStandard<F: ODEFunction>(
    _ name: String, _ prob: ODEProblem<F>, _ o: SolveOptions, expectThrow: Bool = false,
    expectFailure: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) where F.Scalar == Double {
    do {
        let sol = try sweepSolve(name, prob, o)
        #expect(!expectThrow, "\(name): expected a throw, got \(sol.retcode)", sourceLocation: sourceLocation)
        if sol.retcode == .success {
            #expect(!expectFailure, "\(name): expected a failure code, got success", sourceLocation: sourceLocation)
            let finite = sol.u.allSatisfy { $0.allSatisfy(\.isFinite) }
            #expect(finite, "\(name): success with non-finite states", sourceLocation: sourceLocation)
            #expect(sol.t.last == prob.resolvedTimeSpan().1, "\(name): success before the end", sourceLocation: sourceLocation)
        } else {
            #expect(sol.message != nil, "\(name): \(sol.retcode) without a message", sourceLocation: sourceLocation)
        }
    } catch {
        // Invalid input throws before any work; a failure during the solve is a return code on
        // the partial solution (ODEAlgorithm.solve), never a throw. So a throw is right only
        // where the case says the input is refused.
        #expect(
            expectThrow,
            "\(name): expected \(expectFailure ? "a failure return code" : "a solution"), got a throw: \(error)",
            sourceLocation: sourceLocation)
        #expect(!error.description.isEmpty, "\(name): a throw without a message", sourceLocation: sourceLocation)
    }
}

private func decay(_ u0: [Double] = [1.0, 2.0], tspan: (Double, Double) = (0, 1)) -> ODEProblem<GenericRHS<Decay, Double>> {
    ODEProblem(model: Decay(), u0: u0, tspan: tspan, p: [])
}

@Suite struct RobustnessSweepTests {
    @Test(arguments: sweepAlgorithms) func nonFiniteU0(_ a: String) {
        checkStandard(a, decay([1, .nan]), .init(), expectThrow: true)
        checkStandard(a, decay([.infinity, 1]), .init(), expectThrow: true)
    }

    @Test(arguments: sweepAlgorithms) func fWritesNaNMidSolve(_ a: String) {
        let p = ODEProblem(f: { du, u, p, t in
            for i in u.indices { du[i] = -u[i] }
            if t > 0.5 { du[1] = .nan }
        }, u0: [1.0, 2.0], tspan: (0, 1))
        checkStandard(a, p, .init(), expectFailure: true)
        let q = ODEProblem(f: { du, u, p, t in
            for i in u.indices { du[i] = -u[i] }
            if t > 0.5 { du[0] = -.infinity }
        }, u0: [1.0, 2.0], tspan: (0, 1))
        checkStandard(a, q, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func fShrinksDu(_ a: String) {
        let p = ODEProblem(f: { du, u, p, t in du = [-u[0]] }, u0: [1.0, 2.0], tspan: (0, 1))
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func fShrinksDuLater(_ a: String) {
        let p = ODEProblem(f: { du, u, p, t in
            if t > 0.3 { du = [-u[0]] } else { for i in u.indices { du[i] = -u[i] } }
        }, u0: [1.0, 2.0], tspan: (0, 1))
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func fGrowsDu(_ a: String) {
        let p = ODEProblem(f: { du, u, p, t in du = [-u[0], -u[1], 5] }, u0: [1.0, 2.0], tspan: (0, 1))
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func badTolerances(_ a: String) {
        for r in [0, -1, Double.nan, .infinity] { checkStandard(a, decay(), .init(reltol: r), expectThrow: true) }
        checkStandard(a, decay(), .init(abstol: [1e-6]), expectThrow: true)
        checkStandard(a, decay(), .init(abstol: [1e-6, 1e-6, 1e-6]), expectThrow: true)
        checkStandard(a, decay(), .init(abstol: [1e-6, .nan]), expectThrow: true)
        checkStandard(a, decay(), .init(abstol: -1), expectThrow: true)
        // Legal but extreme.
        // GlobalErrorControl refuses a reltol below its minimumReltol (1e-14): no room to tighten.
        checkStandard(a, decay(), .init(reltol: 1e-300, abstol: 1e-300, maxiters: 2000), expectThrow: a == "GEC")
        checkStandard(a, decay(), .init(reltol: 1e300, abstol: 1e300))
    }

    @Test(arguments: sweepAlgorithms) func badSpans(_ a: String) {
        checkStandard(a, decay(tspan: (1, 1)), .init(), expectThrow: true)
        checkStandard(a, decay(tspan: (0, .nan)), .init(), expectThrow: true)
        checkStandard(a, decay(tspan: (.nan, 1)), .init(), expectThrow: true)
        checkStandard(a, decay(tspan: (0, -.infinity)), .init(), expectThrow: true)
        checkStandard(a, decay(tspan: (1, 0)), .init())
        checkStandard(a, decay(tspan: (0, 1e300)), .init(maxiters: 5000))
        checkStandard(a, decay(tspan: (-1e308, 1e308)), .init(maxiters: 5000))
        checkStandard(a, decay(tspan: (1e300, 1e300 + 1e285)), .init(maxiters: 5000))
    }

    @Test(arguments: sweepAlgorithms) func badSaveat(_ a: String) {
        checkStandard(a, decay(), .init(saveat: .times([2])), expectThrow: true)
        checkStandard(a, decay(), .init(saveat: .times([.nan])), expectThrow: true)
        checkStandard(a, decay(), .init(saveat: .every(-0.1)), expectThrow: true)
        checkStandard(a, decay(), .init(saveat: .every(.nan)), expectThrow: true)
        checkStandard(a, decay(), .init(saveat: .every(1e-300)), expectThrow: true)
        checkStandard(a, decay(), .init(saveat: .every(5)))
        checkStandard(a, decay(), .init(saveat: .times([])))
        checkStandard(a, decay(), .init(saveat: .times([0, 0, 1, 1])))
    }

    @Test(arguments: sweepAlgorithms) func saveatHugeSpan(_ a: String) {
        checkStandard(a, decay(tspan: (0, 1e300)), .init(saveat: .every(1e-10), maxiters: 100), expectThrow: true)
    }

    @Test(arguments: sweepAlgorithms) func saveatOverflowingSpan(_ a: String) {
        checkStandard(a, decay(tspan: (-1e308, 1e308)), .init(saveat: .every(1), maxiters: 100), expectThrow: true)
    }

    @Test(arguments: sweepAlgorithms) func badTstops(_ a: String) {
        checkStandard(a, decay(), .init(tstops: [.nan, -1, 5, .infinity, 0.5, 0.5, 0, 1]))
    }

    @Test(arguments: sweepAlgorithms) func badStepOptions(_ a: String) {
        checkStandard(a, decay(), .init(dt: 0), expectThrow: true)
        checkStandard(a, decay(), .init(dt: .nan), expectThrow: true)
        checkStandard(a, decay(), .init(dt: -0.1))
        checkStandard(a, decay(), .init(dt: 1e300))
        checkStandard(a, decay(), .init(dt: 1e-300, maxiters: 1000))
        checkStandard(a, decay(), .init(dtmin: 0.5, dtmax: 0.1), expectThrow: true)
        checkStandard(a, decay(), .init(dtmin: .nan), expectThrow: true)
        checkStandard(a, decay(), .init(dtmax: .nan), expectThrow: true)
        // dtmin above dtmax (by default the span's length, 1): refused up front.
        checkStandard(a, decay(), .init(dtmin: 10), expectThrow: true)
        checkStandard(a, decay(), .init(dtmin: 0.9))
        checkStandard(a, decay(), .init(dtmax: 1e-300, maxiters: 100))
        checkStandard(a, decay(), .init(maxiters: 0), expectThrow: true)
        checkStandard(a, decay(), .init(maxiters: -5), expectThrow: true)
        checkStandard(a, decay(), .init(maxiters: 1))
        checkStandard(a, decay(), .init(maxiters: .max))
    }

    @Test(arguments: sweepAlgorithms) func massMatrices(_ a: String) {
        // Only the Rosenbrock methods solve M du/dt = f; the others refuse any mass matrix.
        let refused = !["Rodas5P", "Rosenbrock23"].contains(a)
        var p = decay()
        p.massMatrix = [1, 0, 0]
        checkStandard(a, p, .init(), expectThrow: true)
        p.massMatrix = [0, 0, 0, 0]
        checkStandard(a, p, .init(), expectThrow: refused)
        p.massMatrix = [.nan, 0, 0, 1]
        checkStandard(a, p, .init(), expectThrow: true)
        p.massMatrix = [1, 0, 0, 0]
        checkStandard(a, p, .init(), expectThrow: refused)
        p.massMatrix = []
        checkStandard(a, p, .init(), expectThrow: true)
    }

    @Test(arguments: sweepAlgorithms) func callbacksNaNCondition(_ a: String) {
        // Callback closures are @Sendable (a problem may be solved on any thread): an atomic count.
        let fired = Atomic<Int>(0)
        let cb = ContinuousCallback<Double>(
            condition: { u, t, p in t > 0.5 ? .nan : -1 }, affect: { _ in fired.wrappingAdd(1, ordering: .relaxed) })
        var p = decay()
        p.callbacks = CallbackSet(cb)
        checkStandard(a, p, .init())
        // A NaN has no sign: it once read as an upcrossing in the native integrator (NaN < 0 is
        // false) and the affect ran at a bogus root. Now every solver stops with `.failure`.
        let count = fired.load(ordering: .relaxed)
        #expect(count == 0, "\(a): a NaN condition fired \(count) events")
        if let sol = try? sweepSolve(a, p, .init()) {
            #expect(sol.retcode == .failure, "\(a): \(sol.retcode)")
            #expect(sol.message?.contains("returned NaN") == true, "\(a): \(sol.message ?? "")")
        }
    }

    @Test(arguments: sweepAlgorithms) func eventAtT0(_ a: String) {
        let fired = Mutex<[Double]>([])
        let cb = ContinuousCallback<Double>(condition: { u, t, p in t - 0 }, affect: { c in fired.withLock { $0.append(c.t) } })
        var p = decay()
        p.callbacks = CallbackSet(cb)
        checkStandard(a, p, .init())
        let cb2 = ContinuousCallback<Double>(condition: { u, t, p in t - 1 }, affect: { c in fired.withLock { $0.append(c.t) } })
        p.callbacks = CallbackSet(cb2)
        checkStandard(a, p, .init())
    }

    @Test(arguments: sweepAlgorithms) func affectChangesStateLength(_ a: String) {
        let cb = ContinuousCallback<Double>(condition: { u, t, p in t - 0.5 }, affect: { c in c.u = [1] })
        var p = decay()
        p.callbacks = CallbackSet(cb)
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func affectChangesParameterLength(_ a: String) {
        let cb = ContinuousCallback<Double>(condition: { u, t, p in t - 0.5 }, affect: { c in c.p = [1, 2, 3] })
        var p = decay()
        p.callbacks = CallbackSet(cb)
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func discreteAffectChangesStateLength(_ a: String) {
        let cb = DiscreteCallback<Double>(condition: { u, t, p in t > 0.5 }, affect: { c in c.u = [] })
        var p = decay()
        p.callbacks = CallbackSet(cb)
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func affectWritesNaN(_ a: String) {
        let cb = ContinuousCallback<Double>(condition: { u, t, p in t - 0.5 }, affect: { c in c.u[0] = .nan })
        var p = decay()
        p.callbacks = CallbackSet(cb)
        checkStandard(a, p, .init(), expectFailure: true)
    }

    @Test(arguments: sweepAlgorithms) func zeroLengthState(_ a: String) {
        checkStandard(a, decay([]), .init(), expectThrow: true)
    }

    @Test(arguments: ["CVODE_Adams", "CVODE_BDF"]) func floatWithCVODE(_ a: String) throws {
        let p = ODEProblem(f: { (du: inout [Float], u: [Float], p: [Float], t: Float) in du[0] = -u[0] }, u0: [Float(1)], tspan: (0, 1))
        let s = a == "CVODE_Adams" ? try solve(p, CVODE_Adams()) : try solve(p, CVODE_BDF())
        #expect(s.retcode == .success)
        let big = ODEProblem(f: { (du: inout [Float], u: [Float], p: [Float], t: Float) in du[0] = u[0] * 1e30 }, u0: [Float(1)], tspan: (0, 1))
        let s2 = a == "CVODE_Adams" ? try solve(big, CVODE_Adams()) : try solve(big, CVODE_BDF())
        #expect(s2.retcode != .success || s2.u.allSatisfy { $0.allSatisfy(\.isFinite) })
        #expect(throws: DiffEqError.self) { a == "CVODE_Adams" ? try solve(p, CVODE_Adams(), reltol: .nan) : try solve(p, CVODE_BDF(), reltol: 0) }
    }

    @Test func cvodeBadSettings() {
        #expect(throws: DiffEqError.self) { try solve(decay(), CVODE_Adams(maxOrder: 0)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), CVODE_Adams(maxOrder: 13)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), CVODE_BDF(maxOrder: 6)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), CVODE_BDF(maxNumSteps: 0)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), CVODE_BDF(maxNumSteps: -1)) }
    }

    @Test func globalErrorControlBadSettings() {
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Tsit5(), maxSolves: 1)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Tsit5(), firstReduction: .nan)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Tsit5(), target: 1)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Tsit5(), minimumReltol: 0)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Tsit5(), exponent: .nan)) }
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Euler()), dt: 0.1) }
        #expect(throws: DiffEqError.self) { try solve(decay(), GlobalErrorControl(Tsit5()), reltol: 1e-15) }
        checkStandard("GEC", decay(), .init(reltol: 1e-3, abstol: .scalar(5e-324)))
        checkStandard("GEC", decay(), .init(maxiters: 30))
    }

    // MARK: Integrator interface

    @Test func integratorAdvanceBadTargets() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init())
        integ.advance(to: 0.5)
        integ.advance(to: 0.2)
        integ.advance(to: .nan)
        integ.advance(to: .infinity)
        integ.advance(to: 5)
        integ.advance(to: 0.5)
        #expect(integ.t == 0.5)
        integ.advance(to: 1)
        #expect(integ.retcode == .success)
    }

    @Test func integratorSetDtZero() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init())
        integ.dt = 0
        let sol = integ.solve()
        #expect(sol.retcode == .failure)
    }

    @Test func integratorSetDtNaN() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init())
        integ.dt = .nan
        let sol = integ.solve()
        #expect(sol.retcode == .failure)
    }

    @Test func integratorSetDtWrongSign() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init(maxiters: 1000))
        integ.dt = -0.1
        let sol = integ.solve()
        #expect(sol.retcode == .success)
        #expect(sol.t.allSatisfy { $0 >= 0 && $0 <= 1 })
    }

    @Test func integratorSetTNaN() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init(maxiters: 1000))
        integ.t = .nan
        let sol = integ.solve()
        #expect(sol.retcode != .success || sol.t.allSatisfy(\.isFinite))
        #expect(sol.message != nil || sol.retcode == .success)
    }

    @Test func integratorSetTBeyondEnd() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init(maxiters: 1000))
        integ.t = 5
        let sol = integ.solve()
        #expect(sol.retcode != .success || sol.t.allSatisfy { $0 <= 1 })
    }

    @Test func integratorReinitBad() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init(maxiters: 1000))
        #expect(throws: DiffEqError.self) { try integ.reinit(u0: [1]) }
        #expect(throws: DiffEqError.self) { try integ.reinit(u0: [1, .nan]) }
        #expect(throws: DiffEqError.self) { try integ.reinit(t0: .nan) }
        do {
            try integ.reinit(t0: 5)
            let sol = integ.solve()
            #expect(sol.retcode != .success || sol.t.allSatisfy { $0 <= 1 }, "\(sol.retcode) \(sol.t.prefix(3))")
        } catch {}
        do {
            try integ.reinit(t0: 1)
            let sol = integ.solve()
            #expect(sol.retcode == .success || sol.message != nil)
        } catch {}
    }

    @Test func integratorSetPWrongLength() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init(isOutOfDomain: { _, _, _ in false }))
        integ.p = [1, 2, 3]
        let sol = integ.solve()
        #expect(sol.retcode == .success)
    }

    @Test func integratorSetUNaN() throws {
        var integ = try Rodas5P().makeIntegrator(decay(), options: .init())
        integ.u = [.nan, 1]
        let sol = integ.solve()
        #expect(sol.retcode != .success, "\(sol.retcode)")
    }

    @Test func integratorSetUWrongLength() throws {
        var integ = try Tsit5().makeIntegrator(decay(), options: .init())
        integ.u = [1, 2, 3]
        let sol = integ.solve()
        #expect(sol.retcode != .success)
    }

    // MARK: Fixed-size form

    @Test func staticBadInputs() throws {
        let lorenz = TestProblems.staticLorenz()
        #expect(throws: DiffEqError.self) { try solve(lorenz, Tsit5(), reltol: 0) }
        #expect(throws: DiffEqError.self) { try solve(lorenz, Tsit5(), abstol: [1, 1]) }
        #expect(throws: DiffEqError.self) { try solve(lorenz, Tsit5(), dt: .nan) }
        #expect(throws: DiffEqError.self) { try solve(lorenz, Rodas5P(), maxiters: 0) }
        #expect(throws: DiffEqError.self) { try solve(lorenz, Tsit5(), saveat: .every(1e-300)) }
        var bad = lorenz
        bad.u0 = SIMD3(.nan, 0, 0)
        #expect(throws: DiffEqError.self) { try solve(bad, Tsit5()) }
        #expect(throws: DiffEqError.self) { try solve(bad, Rodas5P()) }
        bad = lorenz
        bad.tspan = (0, .nan)
        #expect(throws: DiffEqError.self) { try solve(bad, Tsit5()) }
        #expect(throws: DiffEqError.self) { try solve(bad, GlobalErrorControl(Tsit5())) }
        bad.tspan = (3, 3)
        #expect(throws: DiffEqError.self) { try solve(bad, Rosenbrock23()) }
        bad.tspan = (0, 1e300)
        let s = try solve(bad, Tsit5(), maxiters: 1000)
        #expect(s.retcode != .success || s.u.allSatisfy(\.isFiniteState))
        let s2 = try solve(bad, Rodas5P(), maxiters: 1000)
        #expect(s2.retcode != .success || s2.u.allSatisfy(\.isFiniteState))
    }

    @Test func staticSaveatHugeSpan() {
        var bad = TestProblems.staticLorenz()
        bad.tspan = (0, 1e300)
        #expect(throws: DiffEqError.self) { try solve(bad, Tsit5(), saveat: .every(1e-10), maxiters: 10) }
    }

    @Test func staticFWritesNaN() throws {
        let p = StaticODEProblem(f: { (u: SIMD2<Double>, p: Double, t: Double) in t > 0.5 ? SIMD2(.nan, 0) : -u },
                                 u0: SIMD2<Double>(1, 1), tspan: (0, 1), p: 0.0)
        for s in [try solve(p, Tsit5()), try solve(p, Rodas5P()), try solve(p, Rosenbrock23()), try solve(p, GlobalErrorControl(DP5()))] {
            #expect(s.retcode != .success)
            #expect(s.message != nil)
        }
        let r = try solve(p, RK4(), dt: 0.1)
        #expect(r.retcode != .success)
    }

    @Test func staticIntegrator() throws {
        var integ = try Tsit5().makeIntegrator(TestProblems.staticLorenz(), options: .init())
        #expect(throws: DiffEqError.self) { try integ.reinit(u0: SIMD3(.infinity, 0, 0)) }
        _ = integ.step()
        let sol = integ.solve()
        #expect(sol.retcode == .success)
    }

    // MARK: Sensitivity

    @Test func sensitivityMismatches() {
        let prob = ODEProblem(model: Decay(), u0: [1.0, 2.0], tspan: (0, 1), p: [])
        let o = SolveOptions(reltol: 1e-6, abstol: 1e-8, saveat: .times([0.5, 1]))
        for run in 0..<6 {
            do {
                let r: SensitivityResult
                switch run {
                case 0: r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: o, sensealg: ForwardDiffSensitivity())
                case 1: r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: o, sensealg: ForwardSensitivity())
                case 2: r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: o, sensealg: InterpolatingAdjoint())
                case 3: r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: o, sensealg: QuadratureAdjoint())
                case 4: r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: Tsit5(), options: o, sensealg: BacksolveAdjoint())
                default: r = try gradient(of: SumOfSquaresLoss(), prob, algorithm: CVODE_BDF(), options: o, sensealg: CVODESForward())
                }
                #expect(r.du0.count == 2, "run \(run)")
            } catch {
                Issue.record("run \(run): \(error)")
            }
        }
        // Bad inputs to a gradient: NaN u0, empty state, reversed/empty spans.
        for bad in [prob.remake(u0: [.nan, 1]), prob.remake(u0: []), prob.remake(tspan: (1, 1))] {
            for s in 0..<3 {
                do {
                    switch s {
                    case 0: _ = try gradient(of: SumOfSquaresLoss(), bad, algorithm: Tsit5(), options: o, sensealg: ForwardDiffSensitivity())
                    case 1: _ = try gradient(of: SumOfSquaresLoss(), bad, algorithm: Tsit5(), options: o, sensealg: QuadratureAdjoint())
                    default: _ = try gradient(of: SumOfSquaresLoss(), bad, algorithm: CVODE_BDF(), options: o, sensealg: CVODESAdjoint())
                    }
                    Issue.record("no throw for \(s)")
                } catch {}
            }
        }
    }
}
