import DiffEqCore
import Sensitivity
import StiffSolvers
import Testing

/// `ForwardDiffSensitivity` of a fixed-size generic model with the (E)SDIRK methods: each chunk
/// a solve of `FixedVector<N, Dual<C, Double>>` on the fixed-size SDIRK stepper.
@Suite struct StaticSDIRKGradientTests {
    typealias Forms = ForwardModeFormsTests

    static func bothForms<A: SDIRKAlgorithm>(_ algorithm: A, _ options: SolveOptions, _ inputs: GradientInputs) throws
        -> (fixed: SensitivityResult, array: SensitivityResult)
    {
        let fixed = try gradient(of: SumOfSquaresLoss(), Forms.staticProblem, algorithm: algorithm, options: options, wrt: inputs)
        let array = try gradient(
            of: SumOfSquaresLoss(), Forms.arrayProblem, algorithm: algorithm, options: options,
            sensealg: ForwardDiffSensitivity(), wrt: inputs)
        return (fixed, array)
    }

    /// The array form's gradient to the bit (loss, `dp`, `du0`, counters): Lotka-Volterra's four
    /// parameters (one `Dual<4>` chunk) and parameters with the initial state (one `Dual<8>`
    /// chunk), KenCarp4, TRBDF2 and Kvaerno5, at two tolerances.
    @Test(arguments: [1e-4, 1e-8])
    func fixedSizeSDIRKGradientIsTheArrayFormsToTheBit(_ tol: Double) throws {
        let options = SolveOptions(reltol: tol, abstol: .scalar(tol), saveat: .every(1))
        for inputs in [GradientInputs.parameters, .parametersAndInitialState] {
            for (name, r) in [
                ("KenCarp4", try Self.bothForms(KenCarp4(), options, inputs)),
                ("TRBDF2", try Self.bothForms(TRBDF2(), options, inputs)),
                ("Kvaerno5", try Self.bothForms(Kvaerno5(), options, inputs)),
            ] {
                #expect(r.fixed.loss.bitPattern == r.array.loss.bitPattern, "\(name)")
                #expect(r.fixed.dp.map(\.bitPattern) == r.array.dp.map(\.bitPattern), "\(name) \(inputs)")
                #expect(r.fixed.du0.map(\.bitPattern) == r.array.du0.map(\.bitPattern), "\(name) \(inputs)")
                #expect(r.fixed.du0.count == (inputs == .parameters ? 0 : 2))
                #expect(r.fixed.stats == r.array.stats, "\(name)")
            }
        }
    }

    /// The fixed-size gradients against central differences of the loss from plain solves by
    /// another method family (Vern9 at 1e-13, ``ForwardModeFormsTests/expectCentralDifferences(_:)``),
    /// to 1e-6 relative: KenCarp4 and Kvaerno5 at 1e-10. (TRBDF2, second order, needs more than
    /// the default `maxiters` at 1e-12, the tolerance its error would need: measured, it stopped
    /// at t = 5.87 of 10; it is held to the array form's bits above.)
    @Test func fixedSizeSDIRKGradientsMatchCentralDifferences() throws {
        let options = SolveOptions(reltol: 1e-10, abstol: 1e-10, saveat: .every(1))
        try Forms.expectCentralDifferences(
            gradient(of: SumOfSquaresLoss(), Forms.staticProblem, algorithm: KenCarp4(), options: options))
        try Forms.expectCentralDifferences(
            gradient(of: SumOfSquaresLoss(), Forms.staticProblem, algorithm: Kvaerno5(), options: options))
    }
}
