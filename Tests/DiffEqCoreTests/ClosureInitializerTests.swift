// The closure initializers pass everything the right-hand side types take (#13: the array form's
// could not declare a problem autonomous, although ClosureRHS could).
import DiffEqCore
import Testing

@Suite struct ClosureInitializerTests {
    @Test func arrayFormDeclaresAutonomousAndJacobian() {
        let plain = ODEProblem(f: { du, u, _, _ in du[0] = -u[0] }, u0: [1.0], tspan: (0, 1))
        #expect(!plain.f.isAutonomous && !plain.f.hasAnalyticJacobian)
        let declared = ODEProblem(
            f: { du, u, _, _ in du[0] = -u[0] }, jacobian: { J, _, _, _ in J[0] = -1 }, autonomous: true,
            u0: [1.0], tspan: (0, 1))
        #expect(declared.f.isAutonomous && declared.f.hasAnalyticJacobian)
        var J = [0.0]
        declared.f.jacobian(&J, [1], [], 0)
        #expect(J == [-1])
    }

    @Test func fixedSizeFormDeclaresAutonomousAndJacobian() {
        let plain = StaticODEProblem(f: { u, _, _ in -u }, u0: SIMD2<Double>(1, 2), tspan: (0, 1), p: 0.0)
        #expect(!plain.f.isAutonomous && !plain.f.hasAnalyticJacobian)
        let declared = StaticODEProblem(
            f: { u, _, _ in -u },
            jacobian: { _, _, _ in
                var J = SIMD2<Double>.SquareMatrix()
                J[0, 0] = -1
                J[1, 1] = -1
                return J
            }, autonomous: true,
            u0: SIMD2<Double>(1, 2), tspan: (0, 1), p: 0.0)
        #expect(declared.f.isAutonomous && declared.f.hasAnalyticJacobian)
        let J = declared.f.jacobian(SIMD2(1, 2), 0, 0)
        #expect(J[column: 0] == SIMD2(-1, 0) && J[column: 1] == SIMD2(0, -1))
    }
}
