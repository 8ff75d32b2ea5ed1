import DiffEqCore
import ExplicitRK
import ProblemLibrary
import Sensitivity
import StiffSolvers
import Testing

/// `ForwardDiffSensitivity` of a fixed-size generic model with the Rosenbrock methods: each
/// chunk a solve of `FixedVector<N, Dual<C, Double>>` on the fixed-size Rosenbrock stepper.
@Suite struct StaticRosenbrockGradientTests {
    typealias Forms = ForwardModeFormsTests

    /// The array form's gradient to the bit (loss, `dp`, `du0`, counters): Lotka-Volterra's four
    /// parameters (one `Dual<4>` chunk) and parameters with the initial state (one `Dual<8>`
    /// chunk), every Rosenbrock method, at two tolerances.
    @Test(arguments: [1e-4, 1e-8])
    func fixedSizeRosenbrockGradientIsTheArrayFormsToTheBit(_ tol: Double) throws {
        let options = SolveOptions(reltol: tol, abstol: .scalar(tol), saveat: .every(1))
        for inputs in [GradientInputs.parameters, .parametersAndInitialState] {
            for method in ["Rodas5P", "Rodas4", "Rosenbrock23"] {
                let (fixed, array) = try Self.bothForms(method, options, inputs)
                #expect(fixed.loss.bitPattern == array.loss.bitPattern, "\(method)")
                #expect(fixed.dp.map(\.bitPattern) == array.dp.map(\.bitPattern), "\(method) \(inputs)")
                #expect(fixed.du0.map(\.bitPattern) == array.du0.map(\.bitPattern), "\(method) \(inputs)")
                #expect(fixed.du0.count == (inputs == .parameters ? 0 : 2))
                #expect(fixed.stats == array.stats, "\(method)")
            }
        }
    }

    static func bothForms(_ method: String, _ options: SolveOptions, _ inputs: GradientInputs) throws
        -> (SensitivityResult, SensitivityResult)
    {
        let loss = SumOfSquaresLoss()
        switch method {
        case "Rodas4":
            return (
                try gradient(of: loss, Forms.staticProblem, algorithm: Rodas4(), options: options, wrt: inputs),
                try gradient(
                    of: loss, Forms.arrayProblem, algorithm: Rodas4(), options: options, sensealg: ForwardDiffSensitivity(),
                    wrt: inputs)
            )
        case "Rosenbrock23":
            return (
                try gradient(of: loss, Forms.staticProblem, algorithm: Rosenbrock23(), options: options, wrt: inputs),
                try gradient(
                    of: loss, Forms.arrayProblem, algorithm: Rosenbrock23(), options: options,
                    sensealg: ForwardDiffSensitivity(), wrt: inputs)
            )
        default:
            return (
                try gradient(of: loss, Forms.staticProblem, algorithm: Rodas5P(), options: options, wrt: inputs),
                try gradient(
                    of: loss, Forms.arrayProblem, algorithm: Rodas5P(), options: options, sensealg: ForwardDiffSensitivity(),
                    wrt: inputs)
            )
        }
    }

    /// Rodas5P's fixed-size gradient against central differences of the loss from plain solves
    /// by another method family (Vern9 at 1e-13; `h = 1e-5·|x|`, truncation `O(h²)` and solve
    /// error `1e-13/h` both below 1e-7 relative), to 1e-6 relative.
    @Test func fixedSizeRodas5PGradientMatchesCentralDifferences() throws {
        let options = SolveOptions(reltol: 1e-11, abstol: 1e-11, saveat: .every(1))
        let r = try gradient(of: SumOfSquaresLoss(), Forms.staticProblem, algorithm: Rodas5P(), options: options)
        #expect(r.dp.count + r.du0.count == 6)
        try Forms.expectCentralDifferences(r)
    }

    /// A mass matrix is refused before any solve, as for an array problem (the sensitivity
    /// methods do not differentiate DAEs); the identity given explicitly is accepted.
    @Test func fixedSizeGradientRefusesAMassMatrix() throws {
        var problem = Forms.staticProblem
        var mass = StaticMatrix<2, StaticVector<2>>()
        mass[0, 0] = 1
        problem.massMatrix = mass
        #expect(throws: SensitivityError.self) {
            try gradient(of: SumOfSquaresLoss(), problem, algorithm: Rodas5P(), options: SolveOptions(saveat: .every(1)))
        }
        mass[1, 1] = 1
        problem.massMatrix = mass
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-6, saveat: .every(1))
        let withIdentity = try gradient(of: SumOfSquaresLoss(), problem, algorithm: Rodas5P(), options: options)
        let without = try gradient(of: SumOfSquaresLoss(), Forms.staticProblem, algorithm: Rodas5P(), options: options)
        #expect(withIdentity.dp.map(\.bitPattern) == without.dp.map(\.bitPattern))
    }
}
