import DiffEqCore
import ExplicitRK
import ProblemLibrary
import StiffSolvers
import Testing

/// Issue 14, item 2: every algorithm's own settings are checked before any work
/// (``ODEStepper/validateSettings()``, called by ``ODEIntegrator``'s initializer), so a bad
/// setting is a thrown ``DiffEqError``, never a trap or a misleading failure part way.
@Suite struct SettingsValidationTests {
    static let badNewton: [SDIRKNewtonOptions] = [
        SDIRKNewtonOptions(maxIterations: -1),  // trapped: "Range requires lowerBound <= upperBound"
        SDIRKNewtonOptions(maxIterations: 0),  // failed every stage: "contraction rate 0.0"
        SDIRKNewtonOptions(kappa: 0), SDIRKNewtonOptions(kappa: -0.1), SDIRKNewtonOptions(kappa: .nan),
        SDIRKNewtonOptions(kappa: 2), SDIRKNewtonOptions(slowConvergenceRate: -1),
        SDIRKNewtonOptions(slowConvergenceRate: .nan), SDIRKNewtonOptions(slowConvergenceRate: 1.5),
        SDIRKNewtonOptions(refactorThreshold: -0.1), SDIRKNewtonOptions(refactorThreshold: .infinity),
        SDIRKNewtonOptions(refactorThreshold: .nan),
    ]

    @Test(arguments: 0..<badNewton.count) func badNewtonOptionsThrowBeforeAnyWork(_ index: Int) throws {
        let newton = Self.badNewton[index]
        let prob = TestProblems.rober(tEnd: 1)
        let o = SolveOptions(reltol: 1e-6, abstol: 1e-10)
        for name in ["KenCarp4", "TRBDF2", "Kvaerno5"] {
            do {
                switch name {
                case "KenCarp4": _ = try solve(prob, KenCarp4(newton: newton), options: o)
                case "TRBDF2": _ = try solve(prob, TRBDF2(newton: newton), options: o)
                default: _ = try Kvaerno5(newton: newton).makeIntegrator(prob, options: o)
                }
                Issue.record("\(name) accepted \(newton)")
            } catch {
                guard case .invalidStepOption(let why) = error else {
                    Issue.record("\(name): \(error)")
                    continue
                }
                #expect(why.contains(name) && why.contains("newton."), "\(why)")
            }
        }
    }

    /// The message of `maxIterations: 0` names the setting (it was "contraction rate 0.0").
    @Test func zeroIterationsIsRefusedWithAClearMessage() {
        #expect(throws: DiffEqError.invalidStepOption("KenCarp4: newton.maxIterations must be at least 1, got 0")) {
            try solve(TestProblems.rober(tEnd: 1), KenCarp4(newton: SDIRKNewtonOptions(maxIterations: 0)))
        }
    }

    /// The limits themselves are accepted and solve: one iteration, κ = 1, rates 0 and 1.
    @Test func settingsAtTheirLimitsAreAccepted() throws {
        let prob = TestProblems.rober(tEnd: 1)
        let limits = [
            SDIRKNewtonOptions(maxIterations: 1), SDIRKNewtonOptions(kappa: 1),
            SDIRKNewtonOptions(slowConvergenceRate: 0, refactorThreshold: 0), SDIRKNewtonOptions(slowConvergenceRate: 1),
        ]
        for newton in limits {
            let sol = try solve(prob, KenCarp4(newton: newton), reltol: 1e-6, abstol: 1e-10)
            #expect(sol.retcode != .default, "\(newton)")
        }
    }

    @Test func badAutoSwitchParametersThrow() {
        var zero = AutoSwitchParameters()
        zero.maxStiffSteps = 0
        var negative = AutoSwitchParameters()
        negative.maxNonStiffSteps = -3
        var nanTolerance = AutoSwitchParameters()
        nanTolerance.stiffTolerance = .nan
        var zeroTolerance = AutoSwitchParameters()
        zeroTolerance.nonStiffTolerance = 0
        for parameters in [zero, negative, nanTolerance, zeroTolerance] {
            let alg = AutoSwitch(nonStiff: Tsit5(), stiff: Rodas5P(), parameters: parameters)
            #expect(throws: DiffEqError.self) { try solve(TestProblems.lorenz(), alg) }
            #expect(throws: DiffEqError.self) { try alg.makeIntegrator(TestProblems.lorenz()) }
        }
    }

    /// A fixed step below the resolution of t on the span never moved t (the solve ran to
    /// maxiters in place); refused now, for every form.
    @Test func aFixedStepThatCannotMoveTIsRefused() {
        let prob = TestProblems.rober(tEnd: 1e5)
        #expect(throws: DiffEqError.self) { try solve(prob, Rodas5P(), dt: 1e-13, adaptive: false) }
        #expect(throws: DiffEqError.self) { try solve(prob, KenCarp4(), dt: 1e-13, adaptive: false) }
        #expect(throws: DiffEqError.self) { try solve(TestProblems.staticLorenz(tEnd: 1e5), Rodas5P(), dt: 1e-13, adaptive: false) }
        // Adaptive solves may start below it: the controller grows the step.
        #expect(throws: Never.self) { try solve(TestProblems.rober(tEnd: 1), Rodas5P(), dt: 1e-300) }
    }
}
