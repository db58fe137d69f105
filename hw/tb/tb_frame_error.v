// tb_frame_error: the missing-tlast path of vrt_packetizer (hw/README.md
// section 2.3). SPP = 8; one CPI of four pulses:
//   pulse 0: 10 samples, tlast lost   -> packets of 8 (first) and 2 (final,
//            closed early, sample loss)
//   pulse 1: 5 samples               -> whole, sample loss (after the gap)
//   pulse 2: 8 samples, tlast lost exactly at the SPP boundary
//                                     -> one packet marked first; no final
//   pulse 3: 3 samples               -> whole, sample loss
// Checks each packet's header and trailer word and FRAME_ERRS = 2.
// Testbench-only code.
`timescale 1ns / 1ps
module tb_frame_error;
    reg clk = 1'b0;
    always #5 clk = ~clk;
    reg rst = 1'b1;
    reg [31:0] d = 0; reg [1:0] u = 0; reg l = 0, v = 0;
    wire rdy, mv, ml;
    wire [31:0] md, rd;
    reg wr = 0; reg [7:0] wa = 0; reg [31:0] wd = 0;

    vrt_packetizer #(.AW(4)) dut (
        .clk(clk), .rst(rst),
        .s_axis_tdata(d), .s_axis_tuser(u), .s_axis_tlast(l), .s_axis_tvalid(v),
        .s_axis_tready(rdy), .s_ts_sec(32'd5), .s_ts_psec({8'd0, d}),
        .sample_drop(1'b0),
        .m_axis_tdata(md), .m_axis_tvalid(mv), .m_axis_tready(1'b1), .m_axis_tlast(ml),
        .reg_wr(wr), .reg_waddr(wa), .reg_wdata(wd), .reg_raddr(8'h50), .reg_rdata(rd));

    // {header, last word} of each packet, in order
    reg [63:0] want [0:5];
    initial begin
        want[0] = {32'h4260_000C, 32'h0000_0000};   // context, pointing 0
        want[1] = {32'h1660_000E, 32'h41D4_0500};   // 8, first, CPI
        want[2] = {32'h1661_0008, 32'h41D4_1D00};   // 2, final, loss, CPI
        want[3] = {32'h1662_000B, 32'h41D4_1000};   // 5, whole, loss
        want[4] = {32'h1663_000E, 32'h41D4_0400};   // 8, first
        want[5] = {32'h1664_0009, 32'h41D4_1000};   // 3, whole, loss
    end

    integer w = 0, pk = 0, errors = 0;
    reg [31:0] hdr;
    always @(posedge clk) if (mv) begin
        if (w == 0) hdr = md;
        if (ml) begin
            if (pk > 5 || {hdr, md} !== want[pk]) begin
                $display("TB ERROR: packet %0d header %08h last %08h, expected %016h",
                         pk, hdr, md, want[pk]);
                errors = errors + 1;
            end
            pk = pk + 1;
        end
        w = ml ? 0 : w + 1;
    end

    task s(input [31:0] x, input [1:0] uu, input ll);
        begin
            d = x; u = uu; l = ll; v = 1;
            @(posedge clk);
            while (!rdy) @(posedge clk);
            #1 v = 0;
        end
    endtask

    integer n;
    initial begin
        repeat (3) @(posedge clk);
        #1 rst = 0; wa = 8'h0C; wd = 8; wr = 1;
        @(posedge clk); #1 wa = 8'h00; wd = 1;
        @(posedge clk); #1 wr = 0;
        for (n = 0; n < 10; n = n + 1) s(n,       n == 0 ? 2'b11 : 2'b00, 1'b0);
        for (n = 0; n < 5;  n = n + 1) s(100 + n, n == 0 ? 2'b01 : 2'b00, n == 4);
        for (n = 0; n < 8;  n = n + 1) s(200 + n, n == 0 ? 2'b01 : 2'b00, 1'b0);
        for (n = 0; n < 3;  n = n + 1) s(300 + n, n == 0 ? 2'b01 : 2'b00, n == 2);
        repeat (60) @(posedge clk);
        if (pk != 6) begin
            $display("TB ERROR: %0d packets, expected 6", pk);
            errors = errors + 1;
        end
        if (rd != 2) begin
            $display("TB ERROR: FRAME_ERRS = %0d, expected 2", rd);
            errors = errors + 1;
        end
        if (errors != 0) $fatal(1, "TB FAIL: %0d errors", errors);
        $display("TB PASS (frame errors)");
        $finish;
    end
endmodule
