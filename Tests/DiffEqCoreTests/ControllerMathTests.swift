import Foundation
import Testing
import DiffEqCore

@Suite struct ControllerMathTests {
    /// The controller's log and exp against libm over the ranges they see (errors from 1e-10 up,
    /// exponents of step factors), and their fallbacks.
    @Test func logAndExpMatchLibm() {
        var worstLog = 0.0, worstExp = 0.0
        var x = 1e-12
        while x < 1e12 {
            let reference = Foundation.log(x)
            worstLog = max(worstLog, abs(controllerLog(x) - reference) / max(abs(reference), 1))
            x *= 1.0137
        }
        var y = -50.0
        while y < 50 {
            let reference = Foundation.exp(y)
            worstExp = max(worstExp, abs(controllerExp(y) - reference) / reference)
            y += 0.00731
        }
        #expect(worstLog < 1e-9, "log: \(worstLog)")
        #expect(worstExp < 1e-9, "exp: \(worstExp)")
        #expect(controllerLog(1) == 0)
        #expect(controllerExp(0) == 1)
        #expect(controllerLog(0) == -.infinity)
        #expect(controllerLog(-1).isNaN)
        #expect(controllerExp(.nan).isNaN)
        #expect(controllerExp(800) == .infinity)
        #expect(controllerExp(-800) == 0)
    }
}
