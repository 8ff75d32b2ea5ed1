import DiffEqCore
import ProblemLibrary
import StiffSolvers
import Testing

/// The fixed-size SDIRK stepper on first-order dual states (`FixedVector<N, Dual<K, Double>>`:
/// the values of `W = I − γhJ` factored once, `J` by forward mode on nested duals, the Newton
/// iteration on the dual stage equations) against the array form, the reference (same operations
/// in the same order, so the same bits); and a mass matrix, which both forms refuse alike.
@Suite struct StaticSDIRKMassAndDualTests {
    /// VDPOL (stiff, `ε = 1e-6`) on `FixedVector<2, Dual<1, Double>>`, `ε` seeded: the array form's
    /// dual solve to the bit (values, partials, steps, counters), saved at every step and, through
    /// the dense output, at fixed times.
    @Test(arguments: SDIRKMethod.allCases)
    func dualVanDerPolMatchesTheArrayFormBitwise(method: SDIRKMethod) throws {
        for options in [
            SolveOptions(reltol: 1e-6, abstol: 1e-6), SolveOptions(reltol: 1e-8, abstol: 1e-8, saveat: .every(0.25)),
        ] {
            try StaticRosenbrockMassAndDualTests.expectSameDualSolve(
                method, array: GenericVanDerPol(), fixed: StaticGenericVanDerPol(), u0: [2, 0], p: [1e-6] as StaticVector<1>,
                tEnd: 2, mass: nil, staticMass: nil as StaticMatrix<2, StaticVector<2>>?, options: options,
                width: Dual<1, Double>.self)
        }
    }

    /// The same model on `Double` states: without an analytic Jacobian both forms take `J` by
    /// forward mode on duals (``StaticModelRHS/forwardModeJacobian(_:_:_:)`` and `GenericRHS`'s),
    /// so the same steps and bits.
    @Test(arguments: SDIRKMethod.allCases)
    func genericModelTakesTheArrayFormsForwardModeJacobian(method: SDIRKMethod) throws {
        let options = SolveOptions(reltol: 1e-7, abstol: 1e-7)
        let fixed = try method.solveStatic(
            StaticODEProblem(model: StaticGenericVanDerPol(), u0: [2.0, 0] as StaticVector<2>, tspan: (0, 2),
                p: [1e-6] as StaticVector<1>), options: options)
        let array = try method.solve(
            ODEProblem(model: GenericVanDerPol(), u0: [2.0, 0], tspan: (0, 2), p: [1e-6]), options: options)
        #expect(fixed.retcode == .success)
        #expect(fixed.stats == array.stats)
        #expect(fixed.stats.njacsAD > 0 && fixed.stats.njacsFiniteDifference == 0)
        #expect(fixed.u.map(\.array) == array.u)
    }

    /// A mass matrix (ROBER as the index-1 DAE `M = diag(1, 1, 0)`) is refused before any work
    /// by every SDIRK method in both forms, with the same typed error and message: the array
    /// form's SDIRK stepper has no mass-matrix form, so neither has the fixed-size one.
    @Test(arguments: SDIRKMethod.allCases)
    func massMatrixIsRefusedAsInTheArrayForm(method: SDIRKMethod) throws {
        let options = SolveOptions(reltol: 1e-6, abstol: 1e-8)
        func refusal(_ solve: () throws -> Void) -> String? {
            do {
                try solve()
                return nil
            } catch let DiffEqError.unsupported(message) {
                return message
            } catch {
                return "another error: \(error)"
            }
        }
        let fixed = refusal { _ = try method.solveStatic(StaticRosenbrockMassAndDualTests.staticRober(tEnd: 1), options: options) }
        let array = refusal { _ = try method.solve(RosenbrockDAETests.roberDAE(tEnd: 1), options: options) }
        #expect(fixed != nil && fixed == array, "\(method): \(fixed ?? "no error")")
        #expect(fixed?.contains(method.rawValue) == true)
    }
}
