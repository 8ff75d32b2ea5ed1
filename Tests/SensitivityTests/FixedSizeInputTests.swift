import Testing
import DiffEqCore
import ExplicitRK
import Sensitivity
import StiffSolvers

/// A fixed-size input of the wrong size is refused with a thrown `DiffEqError` before any work
/// (DESIGN.md §8), never a trap: a model whose declared sizes disagree with the problem's `u0`
/// or `p`, on every fixed-size entry point (the explicit RK and Rosenbrock solves, the
/// integrator, `GlobalErrorControl`, forward-mode gradients), and a fixed-size state built from
/// an array of the wrong length.
@Suite struct FixedSizeInputTests {
    /// Counts right-hand-side calls, so a refusal can be seen to come before any work.
    final class Calls { var count = 0 }

    /// Lotka-Volterra written for two states and four parameters, and declaring them: given
    /// fewer it would read past the end of `u` or `p` (a trap), given more it would solve a
    /// different problem than the one written.
    struct DeclaredLotkaVolterra: StaticODEModel {
        let calls: Calls
        var stateCount: Int? { 2 }
        var parameterCount: Int? { 4 }
        func rhs<let N: Int, let P: Int, S: DiffEqScalar>(_ u: FixedVector<N, S>, _ p: FixedVector<P, S>, _ t: S)
            -> FixedVector<N, S>
        {
            calls.count += 1
            var du = u
            du[0] = p[0] * u[0] - p[1] * u[0] * u[1]
            du[1] = -p[2] * u[1] + p[3] * u[0] * u[1]
            return du
        }
    }

    /// Every fixed-size solve path on `problem` throws `expected` and never calls the model.
    static func expectRefused<let N: Int, let P: Int>(
        _ problem: StaticODEProblem<StaticModelRHS<DeclaredLotkaVolterra, N, P, Double>>, _ expected: DiffEqError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6)
        #expect(throws: expected, sourceLocation: sourceLocation) { try Tsit5().solve(problem, options: options) }
        #expect(throws: expected, sourceLocation: sourceLocation) { try Vern7().solve(problem, options: options) }
        #expect(throws: expected, sourceLocation: sourceLocation) { try Rodas5P().solve(problem, options: options) }
        #expect(throws: expected, sourceLocation: sourceLocation) {
            try GlobalErrorControl(Tsit5()).solve(problem, options: options)
        }
        #expect(throws: expected, sourceLocation: sourceLocation) { try Tsit5().makeIntegrator(problem, options: options) }
        #expect(throws: expected, sourceLocation: sourceLocation) { try Rodas5P().makeIntegrator(problem, options: options) }
        #expect(throws: SensitivityError.invalidInput(expected), sourceLocation: sourceLocation) {
            try gradient(of: SumOfSquaresLoss(), problem, algorithm: Tsit5(), options: options)
        }
        #expect(problem.f.model.calls.count == 0, "the model was called before the refusal", sourceLocation: sourceLocation)
    }

    @Test func stateOfAnotherSizeThanTheModelDeclaresThrows() {
        let p: StaticVector<4> = [1.5, 1, 3, 1]
        let wider = StaticODEProblem(
            model: DeclaredLotkaVolterra(calls: Calls()), u0: [1.0, 1.0, 1.0] as StaticVector<3>, tspan: (0, 1), p: p)
        Self.expectRefused(wider, .dimensionMismatch(what: "u0 of a model declaring stateCount 2", expected: 2, got: 3))
        // Undeclared, this one traps at the model's `u[1]`.
        let narrower = StaticODEProblem(
            model: DeclaredLotkaVolterra(calls: Calls()), u0: [1.0] as StaticVector<1>, tspan: (0, 1), p: p)
        Self.expectRefused(narrower, .dimensionMismatch(what: "u0 of a model declaring stateCount 2", expected: 2, got: 1))
    }

    @Test func parametersOfAnotherSizeThanTheModelDeclaresThrow() {
        let u0: StaticVector<2> = [1, 1]
        // Undeclared, this one traps at the model's `p[3]`.
        let fewer = StaticODEProblem(
            model: DeclaredLotkaVolterra(calls: Calls()), u0: u0, tspan: (0, 1), p: [1.5, 1, 3] as StaticVector<3>)
        Self.expectRefused(fewer, .dimensionMismatch(what: "p of a model declaring parameterCount 4", expected: 4, got: 3))
        let more = StaticODEProblem(
            model: DeclaredLotkaVolterra(calls: Calls()), u0: u0, tspan: (0, 1), p: [1.5, 1, 3, 1, 0] as StaticVector<5>)
        Self.expectRefused(more, .dimensionMismatch(what: "p of a model declaring parameterCount 4", expected: 4, got: 5))
    }

    /// At its declared sizes the model solves and differentiates as the same model undeclared
    /// (`ForwardModeFormsTests.StaticLotkaVolterra`), bit for bit: the check changes nothing else.
    @Test func declaredSizesThatFitChangeNothing() throws {
        let options = SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(1))
        let calls = Calls()
        let declared = StaticODEProblem(
            model: DeclaredLotkaVolterra(calls: calls), u0: [1.0, 1.0] as StaticVector<2>, tspan: (0, 10),
            p: [1.5, 1, 3, 1] as StaticVector<4>)
        let undeclared = ForwardModeFormsTests.staticProblem
        let a = try Tsit5().solve(declared, options: options)
        let b = try Tsit5().solve(undeclared, options: options)
        #expect(a.retcode == .success)
        #expect(a.u.map { $0.array.map(\.bitPattern) } == b.u.map { $0.array.map(\.bitPattern) })
        #expect(a.stats == b.stats)
        #expect(calls.count == a.stats.nf)
        let ga = try gradient(of: SumOfSquaresLoss(), declared, algorithm: Tsit5(), options: options)
        let gb = try gradient(of: SumOfSquaresLoss(), undeclared, algorithm: Tsit5(), options: options)
        #expect(ga.dp.map(\.bitPattern) == gb.dp.map(\.bitPattern))
        #expect(ga.du0.map(\.bitPattern) == gb.du0.map(\.bitPattern))
    }

    /// A fixed-size state from an array of run-time length: the right length gives the literal's
    /// value, any other throws (the literal itself, wrong in the source, traps).
    @Test func stateFromAnArrayOfTheWrongLengthThrows() throws {
        #expect(try StaticVector<3>(components: [1, 2, 3]).array == ([1, 2, 3] as StaticVector<3>).array)
        #expect(try SIMD3<Double>(components: [1, 2, 3]) == SIMD3(1, 2, 3))
        let dual = try FixedVector<2, Dual<2, Double>>(components: [Dual(1, seed: 0), Dual(2, seed: 1)])
        #expect(dual[1].value == 2 && dual[1].partials[1] == 1 && dual[1].partials[0] == 0)
        #expect(throws: DiffEqError.dimensionMismatch(what: "the component array for a FixedVector<3, Double>", expected: 3, got: 2)) {
            try StaticVector<3>(components: [1, 2])
        }
        #expect(throws: DiffEqError.dimensionMismatch(what: "the component array for a SIMD3<Double>", expected: 3, got: 4)) {
            try SIMD3<Double>(components: [1, 2, 3, 4])
        }
        #expect(throws: DiffEqError.self) { try SIMD4<Double>(components: []) }
    }
}
