// vrt_packetizer_axil: vrt_packetizer with an AXI4-Lite register slave.
//
// Register map: see vrt_packetizer.v and hw/README.md (byte addresses,
// 32-bit registers; WSTRB is ignored: registers take whole-word writes).
// One transaction at a time; write response OKAY, read latency one cycle.
`timescale 1ns / 1ps
module vrt_packetizer_axil #(
    parameter AW        = 10,
    parameter SPP_RESET = 362
) (
    input  wire        clk,
    input  wire        rst,

    input  wire [31:0] s_axis_tdata,
    input  wire [1:0]  s_axis_tuser,
    input  wire        s_axis_tlast,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    input  wire [31:0] s_ts_sec,
    input  wire [39:0] s_ts_psec,
    input  wire        sample_drop,

    output wire [31:0] m_axis_tdata,
    output wire        m_axis_tvalid,
    input  wire        m_axis_tready,
    output wire        m_axis_tlast,

    input  wire [7:0]  s_axil_awaddr,
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output wire [1:0]  s_axil_bresp,
    output reg         s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [7:0]  s_axil_araddr,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output reg  [31:0] s_axil_rdata,
    output wire [1:0]  s_axil_rresp,
    output reg         s_axil_rvalid,
    input  wire        s_axil_rready
);

    // Write: take address and data together, once the previous response
    // has been accepted (ready may wait for valid, per AXI).
    wire wr_fire = s_axil_awvalid && s_axil_wvalid && !s_axil_bvalid;
    assign s_axil_awready = wr_fire;
    assign s_axil_wready  = wr_fire;
    assign s_axil_bresp   = 2'b00;

    wire rd_fire = s_axil_arvalid && !s_axil_rvalid;
    assign s_axil_arready = rd_fire;
    assign s_axil_rresp   = 2'b00;

    wire [31:0] reg_rdata;

    // Address bits 1:0 and WSTRB are not used (whole-word registers).
    wire unused_ok = &{1'b0, s_axil_wstrb, s_axil_awaddr[1:0], s_axil_araddr[1:0]};

    always @(posedge clk) begin
        if (rst) begin
            s_axil_bvalid <= 1'b0;
            s_axil_rvalid <= 1'b0;
            s_axil_rdata  <= 32'd0;
        end else begin
            if (wr_fire)
                s_axil_bvalid <= 1'b1;
            else if (s_axil_bready)
                s_axil_bvalid <= 1'b0;
            if (rd_fire) begin
                s_axil_rvalid <= 1'b1;
                s_axil_rdata  <= reg_rdata;
            end else if (s_axil_rready) begin
                s_axil_rvalid <= 1'b0;
            end
        end
    end

    vrt_packetizer #(.AW(AW), .SPP_RESET(SPP_RESET)) u_core (
        .clk           (clk),
        .rst           (rst),
        .s_axis_tdata  (s_axis_tdata),
        .s_axis_tuser  (s_axis_tuser),
        .s_axis_tlast  (s_axis_tlast),
        .s_axis_tvalid (s_axis_tvalid),
        .s_axis_tready (s_axis_tready),
        .s_ts_sec      (s_ts_sec),
        .s_ts_psec     (s_ts_psec),
        .sample_drop   (sample_drop),
        .m_axis_tdata  (m_axis_tdata),
        .m_axis_tvalid (m_axis_tvalid),
        .m_axis_tready (m_axis_tready),
        .m_axis_tlast  (m_axis_tlast),
        .reg_wr        (wr_fire),
        .reg_waddr     ({s_axil_awaddr[7:2], 2'b00}),
        .reg_wdata     (s_axil_wdata),
        .reg_raddr     ({s_axil_araddr[7:2], 2'b00}),
        .reg_rdata     (reg_rdata)
    );

endmodule
