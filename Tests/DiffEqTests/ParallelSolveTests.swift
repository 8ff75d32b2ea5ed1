// A user's first parallel code: a task group of solves over shared problems and algorithms.
// That this file compiles in Swift 6 language mode is half of the test (problems, algorithms,
// callbacks, solutions with their dense output and gradient results cross task boundaries only
// if they are `Sendable`); the other half is that every concurrent solve gives the same bits as
// the same solve run serially. Run once under ThreadSanitizer as well:
// `swift test --sanitize=thread --scratch-path .build-tsan --filter ParallelSolve`.
import DiffEq
import Testing
import SundialsBridge
import SensitivityCVODES

/// Van der Pol, `x'' = μ(1 − x²)x' − x` as a first-order system, `p = [μ]`: mildly stiff at
/// μ = 5, so the implicit methods run their Newton iterations and the explicit ones their
/// step-size control; with an analytic Jacobian for the methods that take one.
private struct VanDerPolModel: ODEModel, Sendable {
    func rhs<S: DiffEqScalar>(_ du: inout [S], _ u: [S], _ p: [S], _ t: S) {
        du[0] = u[1]
        du[1] = p[0] * (1 - u[0] * u[0]) * u[1] - u[0]
    }
    var hasAnalyticJacobian: Bool { true }
    func jacobian<S: DiffEqScalar>(_ J: inout [S], _ u: [S], _ p: [S], _ t: S) {
        J[0] = 0
        J[1] = -2 * p[0] * u[0] * u[1] - 1
        J[2] = 1
        J[3] = p[0] * (1 - u[0] * u[0])
    }
    var isAutonomous: Bool { true }
}

/// What a solve produced, as bit patterns: every saved time and state, the dense output at fixed
/// times (when there is one), the work counters and the return code.
private struct Fingerprint: Equatable, Sendable, CustomStringConvertible {
    var label: String
    var bits: [UInt64] = []
    var retcode = ""
    var succeeded = true

    init(_ label: String) { self.label = label }

    init(_ label: String, _ sol: ODESolution<Double>) throws {
        self.label = label
        retcode = "\(sol.retcode)"
        succeeded = sol.retcode == .success
        bits += sol.t.map(\.bitPattern)
        for u in sol.u { bits += u.map(\.bitPattern) }
        if sol.denseOutput != nil {
            let (lo, hi) = sol.denseOutput!.domain
            for k in 0...16 { bits += try sol(lo + (hi - lo) * Double(k) / 16).map(\.bitPattern) }
        }
        bits += [sol.stats.nf, sol.stats.naccept, sol.stats.nreject, sol.stats.njacs].map { UInt64($0) }
    }

    init<State: StaticState>(_ label: String, _ sol: StaticODESolution<State>) where State.Scalar == Double {
        self.label = label
        retcode = "\(sol.retcode)"
        succeeded = sol.retcode == .success
        bits += sol.t.map(\.bitPattern)
        for u in sol.u { bits += (0..<u.scalarCount).map { u[$0].bitPattern } }
        bits += [sol.stats.nf, sol.stats.naccept, sol.stats.nreject].map { UInt64($0) }
    }

    init(_ label: String, _ r: SensitivityResult) {
        self.label = label
        retcode = r.method
        bits = [r.loss.bitPattern] + r.dp.map(\.bitPattern) + r.du0.map(\.bitPattern)
        bits += [r.stats.forwardEvaluations, r.stats.backwardEvaluations, r.stats.vjps].map { UInt64($0) }
    }

    var description: String { "\(label): \(retcode), \(bits.count) words" }
}

/// Compiles only for a `Sendable` type.
private func requireSendable<T: Sendable>(_: T.Type) {}

@Suite struct ParallelSolveTests {
    /// Every value a user shares between tasks is `Sendable` (a compile-time check: this test
    /// passes by compiling in Swift 6 mode).
    @Test func publicValuesAreSendable() {
        // Algorithms.
        requireSendable(Euler.self); requireSendable(Midpoint.self); requireSendable(Heun.self)
        requireSendable(RK4.self); requireSendable(BS3.self); requireSendable(DP5.self)
        requireSendable(Tsit5.self); requireSendable(Vern6.self); requireSendable(Vern7.self)
        requireSendable(Vern8.self); requireSendable(Vern9.self); requireSendable(DP8.self)
        requireSendable(Rosenbrock23.self); requireSendable(Rodas4.self); requireSendable(Rodas5P.self)
        requireSendable(TRBDF2.self); requireSendable(KenCarp4.self); requireSendable(Kvaerno5.self)
        requireSendable(AutoSwitch<Vern7, Rodas5P>.self); requireSendable(GlobalErrorControl<Tsit5>.self)
        requireSendable(CVODE_Adams.self); requireSendable(CVODE_BDF.self)
        // Problems, right-hand sides, callbacks, options.
        requireSendable(ODEProblem<ClosureRHS<Double>>.self)
        requireSendable(ODEProblem<GenericRHS<VanDerPolModel, Double>>.self)
        requireSendable(ODEProblem<GenericRHS<VanDerPolModel, Dual<4, Double>>>.self)
        requireSendable(StaticODEProblem<StaticClosureRHS<SIMD2<Double>, Double>>.self)
        requireSendable(CallbackSet<Double>.self); requireSendable(EventContext<Double>.self)
        requireSendable(SolveOptions.self); requireSendable(SaveAt.self); requireSendable(AbsoluteTolerance.self)
        // Results, dense outputs, return codes, statistics, errors.
        requireSendable(ODESolution<Double>.self); requireSendable(ODESolution<Float>.self)
        requireSendable(StaticODESolution<SIMD3<Double>>.self)
        requireSendable(PiecewisePolynomial<Double>.self); requireSendable(PiecewisePolynomial<Float>.self)
        requireSendable(HermiteDenseOutput<Double>.self); requireSendable((any DenseOutput<Double>).self)
        requireSendable(ReturnCode.self); requireSendable(SolverStats.self)
        requireSendable(DiffEqError.self); requireSendable(InterpolationError.self)
        // Gradients.
        requireSendable(ForwardDiffSensitivity.self); requireSendable(ForwardSensitivity.self)
        requireSendable(InterpolatingAdjoint.self); requireSendable(QuadratureAdjoint.self)
        requireSendable(BacksolveAdjoint.self); requireSendable(AutoSensitivity.self)
        requireSendable(CVODESForward.self); requireSendable(CVODESAdjoint.self)
        requireSendable((any SensitivityAlgorithm).self)
        requireSendable(SensitivityResult.self); requireSendable(SensitivityStats.self)
        requireSendable(SensitivityError.self)
    }

    /// The jobs: each a `@Sendable` closure that captures its problem, algorithm and options (one
    /// problem value shared by several jobs) and returns the solve's fingerprint.
    fileprivate static func jobs() -> [@Sendable () throws -> Fingerprint] {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-8)
        var jobs: [@Sendable () throws -> Fingerprint] = []
        for mu in [2.0, 5.0] {
            let label = "μ = \(mu)"
            // The generic form, shared by every algorithm below.
            let model = ODEProblem(model: VanDerPolModel(), u0: [2.0, 0.0], tspan: (0, 6), p: [mu])
            // The closure form: @Sendable closures, an analytic Jacobian, declared autonomous, and
            // a u0(p, t0) closure.
            let closure = ODEProblem(
                ClosureRHS<Double>(
                    { du, u, p, _ in
                        du[0] = u[1]
                        du[1] = p[0] * (1 - u[0] * u[0]) * u[1] - u[0]
                    },
                    jacobian: { J, u, p, _ in
                        J[0] = 0
                        J[1] = -2 * p[0] * u[0] * u[1] - 1
                        J[2] = 1
                        J[3] = p[0] * (1 - u[0] * u[0])
                    }, autonomous: true),
                u0: { p, _ in [2.0, 0.0 * p[0]] }, tspan: (0, 6), p: [mu])
            // An event (x crosses 0 downwards: u[1] is reversed and damped) rides along.
            let event = ContinuousCallback<Double>(
                condition: { u, _, _ in u[0] }, upcrossing: nil, downcrossing: { c in c.u[1] *= 0.9 })
            let withEvent = closure.remake(callbacks: CallbackSet(event))
            // The fixed-size form.
            let fixed = StaticODEProblem(
                f: { (u: SIMD2<Double>, p: Double, _: Double) in SIMD2(u.y, p * (1 - u.x * u.x) * u.y - u.x) },
                u0: SIMD2(2.0, 0.0), tspan: (0, 6), p: mu)

            jobs.append { try Fingerprint("Tsit5 \(label)", solve(model, Tsit5(), options: options)) }
            jobs.append { try Fingerprint("Vern7 \(label)", solve(model, Vern7(), options: options)) }
            jobs.append { try Fingerprint("Rodas5P \(label)", solve(model, Rodas5P(), options: options)) }
            jobs.append { try Fingerprint("KenCarp4 \(label)", solve(model, KenCarp4(), options: options)) }
            jobs.append { try Fingerprint("TRBDF2 \(label)", solve(model, TRBDF2(), options: options)) }
            jobs.append { try Fingerprint("CVODE_BDF \(label)", solve(model, CVODE_BDF(), options: options)) }
            jobs.append { try Fingerprint("default \(label)", solve(model, reltol: 1e-6, abstol: 1e-8)) }
            jobs.append {
                try Fingerprint("GlobalErrorControl(DP5) \(label)", solve(model, GlobalErrorControl(DP5()), options: options))
            }
            jobs.append { try Fingerprint("closure Tsit5 \(label)", solve(closure, Tsit5(), options: options)) }
            jobs.append { try Fingerprint("closure Rodas5P \(label)", solve(closure, Rodas5P(), options: options)) }
            jobs.append { try Fingerprint("closure + event Vern7 \(label)", solve(withEvent, Vern7(), options: options)) }
            jobs.append { try Fingerprint("closure + event KenCarp4 \(label)", solve(withEvent, KenCarp4(), options: options)) }
            jobs.append { try Fingerprint("fixed-size Tsit5 \(label)", solve(fixed, Tsit5(), options: options)) }
            jobs.append { try Fingerprint("fixed-size Rodas5P \(label)", solve(fixed, Rodas5P(), options: options)) }
            let observed = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(1))
            jobs.append {
                try Fingerprint(
                    "gradient ForwardDiff \(label)",
                    gradient(of: SumOfSquaresLoss(), model, algorithm: Tsit5(), options: observed, sensealg: ForwardDiffSensitivity()))
            }
            jobs.append {
                try Fingerprint(
                    "gradient InterpolatingAdjoint \(label)",
                    gradient(of: SumOfSquaresLoss(), model, algorithm: Rodas5P(), options: observed, sensealg: InterpolatingAdjoint()))
            }
        }
        return jobs
    }

    @Test func taskGroupOfSolvesGivesTheSerialBits() async throws {
        let jobs = Self.jobs()
        let serial = try jobs.map { try $0() }
        // Every job three times at once, so that the same problem value, algorithm and closures
        // are used by several tasks concurrently.
        let rounds = 3
        let parallel = try await withThrowingTaskGroup(of: (Int, Fingerprint).self) { group in
            for k in 0..<(rounds * jobs.count) {
                let job = jobs[k % jobs.count]
                group.addTask { (k, try job()) }
            }
            var results = [Fingerprint?](repeating: nil, count: rounds * jobs.count)
            for try await (k, fingerprint) in group { results[k] = fingerprint }
            return results
        }
        for (k, result) in parallel.enumerated() {
            let expected = serial[k % jobs.count]
            #expect(result == expected, "\(expected.label): a concurrent solve differs from the serial one")
        }
        // The serial solves are not vacuous: each reached its end and produced numbers (a
        // gradient: the loss, dL/dp, dL/du0 and three counters).
        for s in serial {
            #expect(s.succeeded, "\(s)")
            #expect(s.bits.count >= 7, "\(s)")
        }
    }

    /// The solution itself (saved states and dense output) crosses from a child task to the
    /// parent and is evaluated there.
    @Test func solutionsAndProblemsCrossTasks() async throws {
        let prob = ODEProblem(
            f: { du, u, p, _ in du[0] = -p[0] * u[0] }, autonomous: true, u0: [1.0], tspan: (0, 1), p: [0.5])
        let serial = try solve(prob, Tsit5(), reltol: 1e-10, abstol: 1e-12)
        let solutions = try await withThrowingTaskGroup(of: ODESolution<Double>.self) { group in
            for _ in 0..<4 { group.addTask { try solve(prob, Tsit5(), reltol: 1e-10, abstol: 1e-12) } }
            var all: [ODESolution<Double>] = []
            for try await sol in group { all.append(sol) }
            return all
        }
        #expect(solutions.count == 4)
        for sol in solutions {
            #expect(sol.u == serial.u && sol.t == serial.t)
            let mid = try sol(0.5)[0]
            #expect(mid == (try serial(0.5)[0]))
            // Against the exact solution exp(-t/2) (the dense output's own accuracy, not a bit check).
            #expect(abs(mid - 0.7788007830714049) < 1e-8)
        }
    }
}
