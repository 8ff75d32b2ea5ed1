import DiffEqCore
import ExplicitRK
import ProblemLibrary
import StiffSolvers
import SundialsBridge
import Synchronization
import Testing

/// The step-size controllers as values (`SolveOptions.controller`): the default path unchanged to
/// the bit, the PID controller with no derivative gain equal to the PI controller, each
/// controller accurate on Lorenz and VDPOL, and bad coefficients refused before any work.
@Suite struct StepSizeControllerTests {
    /// Lorenz (`σ = 10, ρ = 28, β = 8/3`, `u0 = (1, 0, 0)`) at t = 2, computed offline with
    /// scipy 1.x `solve_ivp` at rtol = atol = 1e-13: DOP853 gave (-7.876082549991448,
    /// -8.761621817315119, 24.990260995565) and Radau (-7.876082549991456, -8.76162181731479,
    /// 24.99026099556557); they agree to 4e-13, far below the errors checked here.
    static let lorenzAt2: [Double] = [-7.876082549991448, -8.761621817315119, 24.990260995565]

    static func maxError(_ u: [Double], _ ref: [Double]) -> Double {
        zip(u, ref).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .nan
    }

    static let pid34Clamped10 = PIDController(beta1: 0.7, beta2: -0.4, beta3: 0, safety: 0.9, limiter: .clamp(qmin: 0.2, qmax: 10))

    // MARK: The PID controller with β3 = 0 is the PI controller

    /// `PIDController(0.7, −0.4, 0)` per unit order, with the PI's safety and bounds, takes the
    /// tuned `PIController.standard(order: 5)` steps of Tsit5 (k = 5), bit for bit: the exponent
    /// `(0.7/5)·log err + (−0.4/5)·log errPrev + 0·log errPrevPrev` rounds as the PI's
    /// `(0.7/5)·log err − (0.4/5)·log errPrev` (negation is exact, `x + (−y) = x − y`, adding
    /// `−0` changes nothing), and the rejected factor uses the same `pow(err, 0.7/5)`.
    @Test func pidWithoutDerivativeGainIsThePIController() throws {
        #expect(ButcherTableau.tsit5.controller == PIController.standard(order: 5))
        let lorenz = ProblemLibrary.lorenz()
        for rtol in [1e-3, 1e-6, 1e-9] {
            let base = SolveOptions(reltol: rtol, abstol: .scalar(rtol))
            var custom = base
            custom.controller = .pid(Self.pid34Clamped10)
            let a = try Tsit5().solve(lorenz, options: base)
            let b = try Tsit5().solve(lorenz, options: custom)
            #expect(a.stats.nreject > 0, "rtol \(rtol): the comparison should include rejected steps")
            #expect(a.stats == b.stats, "rtol \(rtol)")
            #expect(a.t == b.t, "rtol \(rtol)")
            #expect(a.u == b.u, "rtol \(rtol)")

            let staticLorenz = ProblemLibrary.staticLorenz()
            let c = try Tsit5().solve(staticLorenz, options: base)
            let d = try Tsit5().solve(staticLorenz, options: custom)
            #expect(c.stats == d.stats, "fixed-size, rtol \(rtol)")
            #expect(c.u == d.u, "fixed-size, rtol \(rtol)")
        }
        // Rodas5P's tuned controller: gains 0.7/5, 0.4/5, qmax 6.
        let vdp = ProblemLibrary.vanDerPol()
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        var custom = options
        custom.controller = .pid(PIDController(beta1: 0.7, beta2: -0.4, safety: 0.9, limiter: .clamp(qmin: 0.2, qmax: 6)))
        let a = try Rodas5P().solve(vdp, options: options)
        let b = try Rodas5P().solve(vdp, options: custom)
        #expect(a.stats.nreject > 0)
        #expect(a.stats == b.stats)
        #expect(a.u == b.u)
    }

    /// The method's own controller given explicitly changes nothing either.
    @Test func explicitTunedControllerIsTheDefault() throws {
        let vdp = ProblemLibrary.vanDerPol()
        let options = SolveOptions(reltol: 1e-5, abstol: 1e-5)
        var custom = options
        custom.controller = .proportionalIntegral(PIController(beta1: 0.7 / 5, beta2: 0.4 / 5, safety: 0.9, qmin: 0.2, qmax: 6))
        let a = try Rodas5P().solve(vdp, options: options)
        let b = try Rodas5P().solve(vdp, options: custom)
        #expect(a.stats == b.stats)
        #expect(a.u == b.u)
        let c = try Rodas5P().solve(ProblemLibrary.staticVanDerPol(), options: custom)
        #expect(c.stats == a.stats)
        #expect(c.u.map(\.array) == a.u)
    }

    // MARK: Every controller solves Lorenz and VDPOL

    static let controllers: [(String, StepController)] = [
        ("I", .integral(IController())),
        ("PI", .proportionalIntegral(.standard(order: 5))),
        ("PID H312PID", .pid(.h312PID)),
        ("PID H211PI", .pid(.h211PI)),
        ("PID PI42", .pid(.pi42)),
    ]

    /// Tsit5 on Lorenz over [0, 2] at rtol = atol = 1e-8, with each controller: the end state
    /// within 1e-6 of the scipy reference (measured: the tuned controller's error is about
    /// 1e-7; Lorenz amplifies local errors about e^(0.9·2) ≈ 6-fold over the span), in a number
    /// of steps within a factor 2 of the tuned controller's (a controller that is far off
    /// either wastes steps or rejects most of them).
    @Test(arguments: controllers)
    func lorenzWithEachController(_ name: String, _ controller: StepController) throws {
        let problem = ProblemLibrary.lorenz(tEnd: 2)
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveEverystep: false)
        var custom = options
        custom.controller = controller
        let tuned = try Tsit5().solve(problem, options: options)
        let sol = try Tsit5().solve(problem, options: custom)
        #expect(sol.retcode == .success)
        let error = Self.maxError(sol.u.last!, Self.lorenzAt2)
        #expect(error < 1e-6, "\(name): error \(error)")
        let steps = sol.stats.naccept + sol.stats.nreject
        let tunedSteps = tuned.stats.naccept + tuned.stats.nreject
        #expect(Double(steps) < 2 * Double(tunedSteps) && 2 * Double(steps) > Double(tunedSteps),
            "\(name): \(steps) attempts, tuned \(tunedSteps)")
        #expect(sol.stats.nreject * 5 < sol.stats.naccept, "\(name): \(sol.stats.nreject) rejections of \(steps)")

        let fixed = try Tsit5().solve(ProblemLibrary.staticLorenz(tEnd: 2), options: custom)
        #expect(fixed.stats == sol.stats, "\(name): fixed-size form")
        #expect(fixed.u.last!.array == sol.u.last!, "\(name): fixed-size form")
    }

    /// Rodas5P and KenCarp4 on VDPOL (ε = 1e-6, stiff) at rtol = atol = 1e-6 with each
    /// controller: the end state within the test set's reference to 1e-4 (measured about 1e-6
    /// with the tuned controller), in a number of attempts within a factor 2 of the tuned one's.
    @Test(arguments: controllers)
    func vanDerPolWithEachController(_ name: String, _ controller: StepController) throws {
        let problem = ProblemLibrary.vanDerPol()
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, saveEverystep: false)
        var custom = options
        custom.controller = controller
        for (method, tuned, sol) in [
            ("Rodas5P", try Rodas5P().solve(problem, options: options), try Rodas5P().solve(problem, options: custom)),
            ("KenCarp4", try KenCarp4().solve(problem, options: options), try KenCarp4().solve(problem, options: custom)),
        ] {
            #expect(sol.retcode == .success, "\(name) \(method)")
            let error = Self.maxError(sol.u.last!, ProblemLibrary.vanDerPolReference.u)
            #expect(error < 1e-4, "\(name) \(method): error \(error)")
            let steps = sol.stats.naccept + sol.stats.nreject
            let tunedSteps = tuned.stats.naccept + tuned.stats.nreject
            #expect(Double(steps) < 2 * Double(tunedSteps) && 2 * Double(steps) > Double(tunedSteps),
                "\(name) \(method): \(steps) attempts, tuned \(tunedSteps)")
        }
    }

    /// The PID controller really uses the error before last: with a derivative gain it takes
    /// other steps than the same controller without one.
    @Test func derivativeGainChangesTheSteps() throws {
        let problem = ProblemLibrary.lorenz(tEnd: 2)
        var a = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveEverystep: false)
        var b = a
        a.controller = .pid(PIDController(beta1: 1.0 / 18, beta2: 1.0 / 9, beta3: 1.0 / 18))
        b.controller = .pid(PIDController(beta1: 1.0 / 18, beta2: 1.0 / 9, beta3: 0))
        let x = try Tsit5().solve(problem, options: a)
        let y = try Tsit5().solve(problem, options: b)
        #expect(x.u.last! != y.u.last!)
    }

    // MARK: Bad input

    static let invalid: [(String, StepController)] = [
        ("NaN beta1", .pid(PIDController(beta1: .nan, beta2: 0))),
        ("infinite beta3", .pid(PIDController(beta1: 0.7, beta2: -0.4, beta3: .infinity))),
        ("zero beta1", .pid(PIDController(beta1: 0, beta2: 0.1))),
        ("qmin > qmax", .pid(PIDController(beta1: 0.7, beta2: -0.4, limiter: .clamp(qmin: 0.5, qmax: 0.4)))),
        ("qmin > qmax (I)", .integral(IController(qmin: 0.9, qmax: 0.5))),
        ("qmin > 1", .integral(IController(qmin: 1.5, qmax: 2))),
        ("NaN qmax", .integral(IController(qmax: .nan))),
        ("safety 0", .integral(IController(safety: 0))),
        ("safety < 0", .pid(PIDController(beta1: 0.7, beta2: -0.4, safety: -0.9))),
        ("safety NaN", .proportionalIntegral(PIController(beta1: 0.14, beta2: 0.08, safety: .nan))),
        ("PI beta2 NaN", .proportionalIntegral(PIController(beta1: 0.14, beta2: .nan))),
        ("PI beta1 < 0", .proportionalIntegral(PIController(beta1: -0.14, beta2: 0.08))),
    ]

    /// Each bad controller throws `invalidController` from the options' validation, before `f`
    /// is evaluated, in the array form and the fixed-size form.
    @Test(arguments: invalid)
    func invalidControllerThrowsBeforeWork(_ why: String, _ controller: StepController) {
        let calls = CallCount()
        let problem = ODEProblem(f: { du, u, _, _ in
            calls.increment()
            du[0] = -u[0]
        }, u0: [1.0], tspan: (0, 1))
        let options = SolveOptions(controller: controller)
        #expect {
            _ = try Tsit5().solve(problem, options: options)
        } throws: { error in
            guard case .invalidController = error as? DiffEqError else { return false }
            return true
        }
        #expect(calls.value == 0, "\(why): f was evaluated before the error")
        #expect(throws: DiffEqError.self, "\(why)") {
            _ = try Rodas5P().solve(ProblemLibrary.staticVanDerPol(), options: options)
        }
    }

    /// CVODE chooses its own steps: a controller in the options is refused with a typed error.
    @Test func cvodeRefusesAController() {
        let options = SolveOptions(controller: .pid(.h312PID))
        #expect {
            _ = try CVODE_BDF().solve(ProblemLibrary.vanDerPol(), options: options)
        } throws: { error in
            guard case .unsupported = error as? DiffEqError else { return false }
            return true
        }
    }
}

/// A counter of `f` evaluations that a `@Sendable` closure can increment.
final class CallCount: Sendable {
    private let calls = Atomic<Int>(0)
    var value: Int { calls.load(ordering: .relaxed) }
    func increment() { calls.wrappingAdd(1, ordering: .relaxed) }
}
